"""Evaluate a network on any width x height grid, tile by tile, so memory stays bounded by the
tile size and the output array, not by the pixel count."""

from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

from .config import ModelConfig
from .coords import pixel_centres
from .image_io import to_integer_array

TILE_PIXELS = 1 << 14
"""Pixels per tile: small enough that the widest layer's activations stay in cache (65536
rendered about 1.6x slower on CPU), large enough that per-tile overhead vanishes."""


class Network(Protocol):
    """What a render needs: the decoder's numpy_model.NumpySASNet, or the encoder's
    model.SASNet (on its own device)."""

    config: ModelConfig

    def evaluate(self, coords: np.ndarray) -> np.ndarray:
        """coords float32 [N, 2] -> centred values float32 [N, channels]."""


def _render(network: Network, width: int, height: int, extent: tuple[float, float],
            tile_pixels: int, dtype: type, convert: Callable[[np.ndarray], np.ndarray]
            ) -> np.ndarray:
    """[height, width, channels] of `dtype`: convert(values in [0, 1] units), tile by tile of
    at most tile_pixels consecutive row-major pixels, whatever the image's shape.

    One tile at a time: on 2 cores a thread per core made the numpy decode 7% slower
    (BLAS already runs its products on both; docs/notes.md)."""
    out = np.empty((height, width, network.config.channels), dtype=dtype)
    flat, total = out.reshape(width * height, -1), width * height
    for start in range(0, total, tile_pixels):
        stop = min(total, start + tile_pixels)
        coords = pixel_centres(width, height, extent, start, stop)
        flat[start:stop] = convert(network.evaluate(coords) + 0.5)
    return out


def render(network: Network, width: int, height: int, extent: tuple[float, float],
           bit_depth: int = 8, tile_pixels: int = TILE_PIXELS) -> np.ndarray:
    """Integer image [height, width, channels] (uint8 or uint16) sampled at the pixel centres
    of a width x height grid over the network's domain (half-extent `extent`)."""
    return _render(network, width, height, extent, tile_pixels,
                   np.uint8 if bit_depth == 8 else np.uint16,
                   lambda values: to_integer_array(values, bit_depth))


def render_float(network: Network, width: int, height: int, extent: tuple[float, float],
                 tile_pixels: int = TILE_PIXELS) -> np.ndarray:
    """Unrounded values [height, width, channels] in [0, 1] units (for tests and metrics)."""
    return _render(network, width, height, extent, tile_pixels, np.float32, lambda values: values)
