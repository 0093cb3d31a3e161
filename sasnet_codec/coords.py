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
                  row_start: int = 0, row_stop: int | None = None,
                  device: torch.device | str = "cpu") -> torch.Tensor:
    """Coordinates [rows * width, 2] as (x, y), row-major, for rows [row_start, row_stop).

    Pixel i of n sits at extent * ((2 i + 1) / n - 1): centres, never the borders themselves.
    """
    row_stop = height if row_stop is None else row_stop
    xs = (torch.arange(width, dtype=torch.float64) * 2 + 1) / width - 1
    ys = (torch.arange(row_start, row_stop, dtype=torch.float64) * 2 + 1) / height - 1
    grid_y, grid_x = torch.meshgrid(ys * extent[1], xs * extent[0], indexing="ij")
    return torch.stack([grid_x, grid_y], dim=-1).reshape(-1, 2).float().to(device)
