"""Pixel-centre coordinates. The image's long side spans [-1, 1] and the short side keeps the
aspect ratio, so one unit of frequency means the same on both axes. A render at another size
samples the same domain at the new grid's pixel centres."""

from __future__ import annotations

import torch


def domain_extent(width: int, height: int) -> tuple[float, float]:
    """Half-extent (x, y) of the coordinate domain of a width x height image."""
    longest = max(width, height)
    return width / longest, height / longest


def pixel_centres(width: int, height: int, extent: tuple[float, float],
                  start: int = 0, stop: int | None = None,
                  device: torch.device | str = "cpu") -> torch.Tensor:
    """Coordinates [stop - start, 2] as (x, y) of the pixels with row-major indices
    [start, stop) (default: all of them).

    Pixel i of n along an axis sits at extent * ((2 i + 1) / n - 1): centres, never the borders.
    """
    stop = width * height if stop is None else stop
    index = torch.arange(start, stop, dtype=torch.int64)
    rows, columns = index // width, index % width
    x = ((columns * 2 + 1).double() / width - 1) * extent[0]
    y = ((rows * 2 + 1).double() / height - 1) * extent[1]
    return torch.stack([x, y], dim=-1).float().to(device)
