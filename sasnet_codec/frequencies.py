"""The embedding's frozen integer frequencies, regenerated from the config (seed included) on
both sides: the embedding costs the bitstream nothing but its trainable phases. Plain Python and
numpy, so the decoder builds them without torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .config import ModelConfig
from .errors import CodecError
from .integer_rng import SplitMix64
from .layout import half_plane_size, high_frequency_count, low_frequency_count


@dataclass(frozen=True)
class FrequencyTable:
    """Integer frequency vectors and the mask band of each (0 = low band, never masked)."""

    k: list[tuple[int, int]]
    band: list[int]


def _half_plane(kx: int, ky: int) -> bool:
    # (kx, ky) and (-kx, -ky) give the same sine up to phase: keep one of each pair.
    return kx > 0 or (kx == 0 and ky > 0)


def integer_frequencies(config: ModelConfig) -> FrequencyTable:
    """The embedding's rows: the 2 unit vectors, a random draw from the low box [-L, L]^2, and a
    lattice inside [-B, B]^2 outside the low box, split into bands by max(|kx|, |ky|).

    The high lattice uses the largest integer step that still holds the requested count, then
    draws that many points from it, so high frequencies cover the band evenly. Band j holds
    max|k| in [L + j (B+1-L)/n, L + (j+1)(B+1-L)/n): edges evenly spaced between L and B+1.
    """
    rng = SplitMix64(config.seed)
    low, high = config.low_freq_range, config.band_limit
    units = [(1, 0), (0, 1)]
    low_box = [
        (kx, ky)
        for kx in range(0, low + 1)
        for ky in range(-low, low + 1)
        if _half_plane(kx, ky) and (kx, ky) not in units
    ]
    high_count = high_frequency_count(config)
    low_pick = rng.sample(low_box, low_frequency_count(config))

    step = 1
    while step < high and half_plane_size(low, high, step + 1) >= high_count:
        step += 1
    lattice = _lattice(low, high, step)
    high_pick = rng.sample(lattice, high_count)

    def band_of(k: tuple[int, int]) -> int:
        radius = max(abs(k[0]), abs(k[1]))
        return 1 + (radius - low) * config.n_bands // (high + 1 - low)

    high_pick.sort(key=band_of)  # stable: bands contiguous, draw order kept inside a band
    k = units + low_pick + high_pick
    band = [0] * (2 + len(low_pick)) + [band_of(kk) for kk in high_pick]
    return FrequencyTable(k=k, band=band)


def _lattice(low: int, high: int, step: int) -> list[tuple[int, int]]:
    return [
        (kx, ky)
        for kx in range(0, high + 1, step)
        for ky in range(-(high // step) * step, high + 1, step)
        if _half_plane(kx, ky) and max(abs(kx), abs(ky)) > low
    ]


def frozen_embedding(config: ModelConfig) -> tuple[np.ndarray, np.ndarray]:
    """The embedding's weights, float32 [width, 2] = 2 pi k / period (computed in float64 and
    rounded once: the same bits on both sides), and each row's band, int64 [width]."""
    table = integer_frequencies(config)
    if len(table.k) != config.embedding_width:
        raise CodecError("the embedding config holds fewer frequencies than its width")
    k = np.array(table.k, dtype=np.float64)
    return (2 * math.pi / config.period * k).astype(np.float32), np.array(table.band, np.int64)
