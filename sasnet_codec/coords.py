"""Pixel-centre coordinates. The image's long side spans [-1, 1] and the short side keeps the
aspect ratio, so one unit of frequency means the same on both axes. A render at another size
samples the same domain at the new grid's pixel centres."""

from __future__ import annotations

import numpy as np


def domain_extent(width: int, height: int) -> tuple[float, float]:
    """Half-extent (x, y) of the coordinate domain of a width x height image."""
    longest = max(width, height)
    return width / longest, height / longest


def pixel_centres(width: int, height: int, extent: tuple[float, float],
                  start: int = 0, stop: int | None = None) -> np.ndarray:
    """Coordinates float32 [stop - start, 2] as (x, y) of the pixels with row-major indices
    [start, stop) (default: all of them).

    Pixel i of n along an axis sits at extent * ((2 i + 1) / n - 1): centres, never the borders.
    """
    stop = width * height if stop is None else stop
    rows, columns = np.divmod(np.arange(start, stop, dtype=np.int64), width)
    x = ((columns * 2 + 1) / width - 1) * extent[0]      # float64, rounded once at the end
    y = ((rows * 2 + 1) / height - 1) * extent[1]
    return np.stack([x, y], axis=-1).astype(np.float32)
