"""How much finer Laplace models would save on real .sas files, before building one.

    python -m benchmarks.entropy_headroom benchmarks/results/kodak-mini/sasnet.json \
        --cache benchmarks/cache

The codec codes each tensor with one zero-mean Laplace scale. For every rate point of an
rd_curve results file, over the .sas files its rows name in the cache, this prints each
tensor's share of the file and what three finer models would save on it, in percent of the
whole file: one scale per hash-grid level, per weight-matrix row, per weight-matrix column.
A saving below zero means the finer model costs more than it saves. Each extra
scale is charged SCALE_INDEX_BITS of side information, the cost of sending its index as the
header does now. Measured with the ideal code length (`entropy.laplace_bits`), which matches
the coder to well under 1%.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sasnet_codec.decoder import decode_container
from sasnet_codec.entropy import best_bits, laplace_bits
from sasnet_codec.layout import grid_levels

from .rd_cache import add_cached_files_arguments, cached_files_per_point

SCALE_INDEX_BITS = 8


def split_bits(parts: list[np.ndarray]) -> float:
    """Code length with one scale per part, side information included."""
    return sum(best_bits(part) + SCALE_INDEX_BITS for part in parts) - SCALE_INDEX_BITS


@dataclass
class TensorTotals:
    """One tensor's bits over the files, and what each finer model saves (0: not applicable)."""

    bits: float = 0.0
    per_level: float = 0.0
    per_row: float = 0.0
    per_column: float = 0.0


def files_report(paths: list[Path]) -> tuple[float, dict[str, TensorTotals]]:
    """All the files' bits, and per tensor name its totals over them."""
    totals: dict[str, TensorTotals] = defaultdict(TensorTotals)
    file_bits = 0.0
    for path in paths:
        data = path.read_bytes()
        container, tensors = decode_container(data)
        model = container.header.model
        file_bits += 8 * len(data)
        for tensor, coding in zip(tensors, container.sections):
            # the scale the file holds is the encoder's best_scale_index already
            entry = totals[tensor.name]
            whole = laplace_bits(tensor.coded_symbols(), coding.scale_index)
            entry.bits += whole
            if tensor.name == "grid.table":
                held = (np.arange(tensor.symbols.size) if tensor.coded is None
                        else tensor.coded)
                features = model.grid_features
                levels = [tensor.symbols[held[(held >= level.offset * features)
                                              & (held < (level.offset + level.size) * features)]]
                          for level in grid_levels(model)]
                entry.per_level += whole - split_bits(levels)
            elif len(tensor.shape) == 2:
                matrix = tensor.symbols.reshape(tensor.shape)
                entry.per_row += whole - split_bits(list(matrix))
                entry.per_column += whole - split_bits(list(matrix.T))
    return file_bits, totals


def print_savings(point: float, files: int, file_bits: float, headings: list[str],
                  rows: dict[str, tuple[float, list[float | None]]], name_width: int) -> None:
    """One rate point's table: each tensor's share of the files and what each finer scheme
    saves, in % of the files ("-": the scheme does not apply to the tensor)."""
    print(f"\nrate point {point}: {files} files, mean {file_bits / 8 / files:.0f} bytes; "
          "saving in % of the files")
    widths = [max(len(heading) + 1, 9) for heading in headings]
    print(f"  {'tensor':<{name_width}} {'share':>7}"
          + "".join(f" {heading:>{width}}" for heading, width in zip(headings, widths)))
    for name, (bits, saved) in rows.items():
        cells = ["-" if s is None else f"{100 * s / file_bits:+.2f}%" for s in saved]
        print(f"  {name:<{name_width}} {100 * bits / file_bits:6.1f}%"
              + "".join(f" {cell:>{width}}" for cell, width in zip(cells, widths)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_cached_files_arguments(parser)
    for point, paths in cached_files_per_point(parser.parse_args(argv)):
        file_bits, totals = files_report(paths)
        rows = {name: (entry.bits, [s or None for s in (entry.per_level, entry.per_row,
                                                         entry.per_column)])
                for name, entry in totals.items()}
        print_savings(point, len(paths), file_bits, ["per level", "per row", "per column"],
                      rows, name_width=20)

if __name__ == "__main__":
    main()
