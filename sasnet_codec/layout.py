"""The shape of a network, derived from its config with exact arithmetic only (no torch):
tensor shapes, embedding group sizes, hash-grid geometry and the grid entries a render reads.
The bitstream parser uses this to check a header's claims before anything is allocated; the
network modules use it to build.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .config import ModelConfig

UNIT_ROWS = 2
"""The embedding always starts with the unit frequency vectors (1, 0) and (0, 1)."""


def half_plane_size(low: int, high: int, step: int = 1) -> int:
    """Integer vectors (kx, ky), both multiples of `step`, with max(|kx|, |ky|) in (low, high],
    counted on the half plane kx > 0 or (kx = 0, ky > 0)."""
    outer = 2 * (high // step) + 1
    inner = 2 * (low // step) + 1
    return (outer * outer - inner * inner) // 2


def low_frequency_count(config: ModelConfig, width: int | None = None) -> int:
    """Rows drawn from the low box: low_freq_percent of the width (the config's own unless
    given), rounded half up, minus the unit rows, capped by what the box holds."""
    width = config.embedding_width if width is None else width
    wanted = (width * config.low_freq_percent + 50) // 100 - UNIT_ROWS
    available = half_plane_size(0, config.low_freq_range) - UNIT_ROWS
    return max(0, min(wanted, available))


def high_frequency_count(config: ModelConfig, width: int | None = None) -> int:
    """Rows drawn from the high lattice: the rest of the embedding."""
    width = config.embedding_width if width is None else width
    return width - UNIT_ROWS - low_frequency_count(config, width)


_HASH_PRIME_Y = 2654435761
_UINT32_MASK = 0xFFFFFFFF


def spatial_hash(gx, gy):
    """tiny-cuda-nn's spatial hash in two dimensions, of integer corner coordinates (int64
    numpy arrays or torch tensors alike): a hashed level's corner reads this entry, mod the
    level's size."""
    return (gx ^ ((gy * _HASH_PRIME_Y) & _UINT32_MASK)) & _UINT32_MASK


@dataclass(frozen=True)
class GridLevel:
    scale: float       # float32 value of base * s^l - 1
    resolution: int    # vertices per axis
    size: int          # table entries
    offset: int        # first entry of this level in the flat table
    dense: bool


def grid_levels(config: ModelConfig) -> list[GridLevel]:
    """Per-level hash-grid geometry (tiny-cuda-nn's rules, see nn/hash_grid.py).

    s^l is built by repeated float64 multiplication (exact IEEE steps, the same on every
    machine); a scale base * s^l - 1 within 1e-5 of an integer is snapped to it, so ceil() cannot
    land one off through rounding noise (tcnn's float32 exp2 can, on such borderline levels).
    """
    levels, offset, growth = [], 0, 1.0
    cap = 1 << config.grid_log2_size
    for _ in range(config.grid_levels):
        scale = config.grid_base_resolution * growth - 1.0
        if abs(scale - round(scale)) < 1e-5:
            scale = float(round(scale))
        scale = float(np.float32(scale))
        resolution = math.ceil(scale) + 1
        size = min((resolution * resolution + 7) // 8 * 8, cap)
        levels.append(GridLevel(scale, resolution, size, offset, resolution * resolution <= cap))
        offset += size
        growth *= config.grid_per_level_scale
    return levels


def grid_parameter_count(config: ModelConfig) -> int:
    last = grid_levels(config)[-1]
    return (last.offset + last.size) * config.grid_features


READ_CHECK_CORNERS_PER_ENTRY = 4
"""Part of format 4, frozen: a grid level's unread entries are looked for only when the domain
spans at most this many of its corners per entry. Beyond, a hashed level leaves few entries
unread (about e^-4 of them), and a crafted header cannot make a decoder hash more than four
corners per parameter it would build anyway."""


def elements_read(config: ModelConfig, width: int, height: int) -> dict[str, np.ndarray]:
    """The elements of each tensor that some render of a width x height image may read (flat
    indices, ascending), for the tensors not read whole; empty when every element is read.

    Only the grid table has unread entries: coordinates keep the aspect ratio while the grid
    spans the unit square, so on a 3:2 image a third of each dense level's rows lie outside the
    domain; each dense level's padding to a multiple of 8 is never indexed; and a hashed level
    has entries that no corner of the domain hashes to. A level spanning more corners than
    READ_CHECK_CORNERS_PER_ENTRY per entry counts as read whole. Format 4 codes only the
    entries named here (the others decode as zero)."""
    if not config.has_masks:
        return {}
    longest = max(width, height)
    kept, total = [], 0
    for level in grid_levels(config):
        gx, gy = (np.arange(*_corner_span(length, longest, level.scale), dtype=np.int64)
                  for length in (width, height))
        checked = len(gx) * len(gy) <= READ_CHECK_CORNERS_PER_ENTRY * level.size
        read = np.zeros(level.size, dtype=bool) if checked else np.ones(level.size, dtype=bool)
        if checked:
            for rows in np.array_split(gy, max(1, len(gx) * len(gy) >> 20)):
                index = (gx[None, :] + rows[:, None] * level.resolution if level.dense
                         else spatial_hash(gx[None, :], rows[:, None]))
                read[index % level.size] = True
        kept.append(np.flatnonzero(read) + level.offset)
        total += level.size
    entries = np.concatenate(kept)
    if len(entries) == total:
        return {}
    features = np.arange(config.grid_features)
    return {"grid.table": (entries[:, None] * config.grid_features + features).ravel()}


def _corner_span(length: int, longest: int, scale: float) -> tuple[int, int]:
    """(first, last + 1) of the corners a grid level reads along an axis of `length` pixels of
    an image whose longest side is `longest`. The domain's grid input u lies inside
    ((L - A) / 2L, (L + A) / 2L), and at p = scale u + 1/2 a point reads the corners floor(p)
    and floor(p) + 1. Exact rational arithmetic (the float32 scale is a dyadic rational), the
    span widened by scale / 2^18 + 2^-10 of a cell: far above float32's error in p, so that a
    render that comes within it of a border cannot read past the span."""
    scale = Fraction(scale)
    tolerance = scale / 2**18 + Fraction(1, 2**10)
    low = Fraction(longest - length, 2 * longest) * scale + Fraction(1, 2) - tolerance
    high = Fraction(longest + length, 2 * longest) * scale + Fraction(1, 2) + tolerance
    return max(0, math.floor(low)), math.floor(high) + 2


def weight_column_split(config: ModelConfig, layer: int) -> int | None:
    """Where hidden layer `layer`'s weight matrix is cut into two coded tensors, each with its
    own quantization step and scale (None: one tensor). Only the first hidden layer of a
    network with `split_first_hidden` is cut, between the low band's columns and the high
    bands' (its columns are the embedding's rows, band-ordered): the masks damp the high bands,
    so the fit makes their weights larger and each one matters less than a low-band weight."""
    if layer == 0 and config.split_first_hidden:
        return UNIT_ROWS + low_frequency_count(config)
    return None


def weight_parts(config: ModelConfig, layer: int, fan_in: int) -> list[tuple[str, int]]:
    """(name suffix, columns) of the coded tensors that hold hidden layer `layer`'s weight,
    left to right: ("weight", fan_in) alone, or ("weight_low", cut), ("weight_high", rest)."""
    cut = weight_column_split(config, layer)
    if cut is None:
        return [("weight", fan_in)]
    return [("weight_low", cut), ("weight_high", fan_in - cut)]


def parameter_shapes(config: ModelConfig) -> list[tuple[str, tuple[int, ...]]]:
    """Names and shapes of every coded tensor, in bitstream order (see docs/bitstream.md)."""
    width, hidden = config.embedding_width, config.hidden_width
    shapes: list[tuple[str, tuple[int, ...]]] = []
    if config.has_embedding:
        shapes.append(("embedding.phase", (width,)))
    else:
        shapes += [("first.weight", (width, 2)), ("first.bias", (width,))]
    for i in range(config.hidden_layers):
        fan_in = width if i == 0 else hidden
        shapes += [(f"hidden{i}.{suffix}", (hidden, columns))
                   for suffix, columns in weight_parts(config, i, fan_in)]
        shapes.append((f"hidden{i}.bias", (hidden,)))
    shapes += [("output.weight", (config.channels, hidden)), ("output.bias", (config.channels,))]
    if config.has_masks:
        grid_width = config.grid_levels * config.grid_features
        shapes += [
            ("grid.table", (grid_parameter_count(config),)),
            ("mask.hidden.weight", (config.mask_hidden, grid_width)),
            ("mask.hidden.bias", (config.mask_hidden,)),
            ("mask.out.weight", (config.n_masks, config.mask_hidden)),
            ("mask.out.bias", (config.n_masks,)),
        ]
    return shapes


def parameter_count(config: ModelConfig) -> int:
    """Trainable parameters of a network with this config."""
    return sum(math.prod(shape) for _, shape in parameter_shapes(config))
