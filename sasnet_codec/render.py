"""Evaluate a model on any width x height grid, tile by tile, so memory stays bounded by the
tile size and the output array, not by the pixel count."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from .coords import pixel_centres
from .image_io import to_integer_array
from .model import SASNet

TILE_PIXELS = 1 << 16


@torch.no_grad()
def _tiles(model: SASNet, width: int, height: int, extent: tuple[float, float],
           tile_pixels: int) -> Iterator[tuple[int, int, np.ndarray]]:
    """(first row, end row, float values [rows, width, channels] in [0, 1] units) per tile."""
    device = next(model.parameters()).device
    rows_per_tile = max(1, tile_pixels // width)
    for row in range(0, height, rows_per_tile):
        stop = min(height, row + rows_per_tile)
        coords = pixel_centres(width, height, extent, row, stop, device=device)
        values = model(coords).float().cpu().numpy() + 0.5
        yield row, stop, values.reshape(stop - row, width, -1)


def render(model: SASNet, width: int, height: int, extent: tuple[float, float],
           bit_depth: int = 8, tile_pixels: int = TILE_PIXELS) -> np.ndarray:
    """Integer image [height, width, channels] (uint8 or uint16) sampled at the pixel centres
    of a width x height grid over the model's domain (half-extent `extent`)."""
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    out = np.empty((height, width, model.config.channels), dtype=dtype)
    for row, stop, values in _tiles(model, width, height, extent, tile_pixels):
        out[row:stop] = to_integer_array(values, bit_depth)
    return out


def render_float(model: SASNet, width: int, height: int, extent: tuple[float, float],
                 tile_pixels: int = TILE_PIXELS) -> np.ndarray:
    """Unrounded values [height, width, channels] in [0, 1] units (for tests and metrics)."""
    out = np.empty((height, width, model.config.channels), dtype=np.float32)
    for row, stop, values in _tiles(model, width, height, extent, tile_pixels):
        out[row:stop] = values
    return out
