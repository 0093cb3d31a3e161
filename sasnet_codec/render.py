"""Evaluate a network on any width x height grid, tile by tile, so memory stays bounded by the
tiles in flight and the output array, not by the pixel count."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
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
    tile_workers: int     # tiles it evaluates at once, each on a thread of its own

    def evaluate(self, coords: np.ndarray) -> np.ndarray:
        """coords float32 [N, 2] -> centred values float32 [N, channels]."""


def _fill(flat: np.ndarray, network: Network, width: int, height: int,
          extent: tuple[float, float], tile_pixels: int,
          convert: Callable[[np.ndarray], np.ndarray]) -> None:
    """flat [width * height, channels] = convert(values in [0, 1] units), tile by tile of at
    most tile_pixels consecutive row-major pixels, whatever the image's shape.

    Tiles run on the network's tile_workers threads; each writes its own rows, so the result
    does not depend on the order they finish in.
    """
    total = width * height

    def tile(start: int) -> None:
        stop = min(total, start + tile_pixels)
        coords = pixel_centres(width, height, extent, start, stop)
        flat[start:stop] = convert(network.evaluate(coords) + 0.5)

    with ThreadPoolExecutor(network.tile_workers) as pool:
        list(pool.map(tile, range(0, total, tile_pixels)))   # list(): re-raise any error


def render(network: Network, width: int, height: int, extent: tuple[float, float],
           bit_depth: int = 8, tile_pixels: int = TILE_PIXELS) -> np.ndarray:
    """Integer image [height, width, channels] (uint8 or uint16) sampled at the pixel centres
    of a width x height grid over the network's domain (half-extent `extent`)."""
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    out = np.empty((height, width, network.config.channels), dtype=dtype)
    _fill(out.reshape(width * height, -1), network, width, height, extent, tile_pixels,
          lambda values: to_integer_array(values, bit_depth))
    return out


def render_float(network: Network, width: int, height: int, extent: tuple[float, float],
                 tile_pixels: int = TILE_PIXELS) -> np.ndarray:
    """Unrounded values [height, width, channels] in [0, 1] units (for tests and metrics)."""
    out = np.empty((height, width, network.config.channels), dtype=np.float32)
    _fill(out.reshape(width * height, -1), network, width, height, extent, tile_pixels,
          lambda values: values)
    return out
