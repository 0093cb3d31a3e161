"""Multiresolution hash grid (Mueller et al. 2022) in pure PyTorch, with tiny-cuda-nn's
"HashGrid" semantics so that the same flat parameter vector works in both backends.

For level l: scale_l = base * s^l - 1, R_l = ceil(scale_l) + 1 vertices per axis, and
size_l = min(next_multiple_of_8(R_l^2), 2^log2_size) entries. A point x in [0, 1]^2 sits at
p = scale_l x + 0.5; its cell corner g = floor(p) is indexed densely (gx + gy R_l) when the
level fits, or hashed (gx XOR gy * 2654435761, uint32) when it does not; both are then taken
mod size_l, so the corner at R_l wraps as in tcnn. Features are interpolated bilinearly.
Parameters are level-major, entry-major, features contiguous: (offset_l + idx) * F + f.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import torch
from torch import nn

from ..config import ModelConfig
from ..layout import grid_levels, spatial_hash


_CORNERS = torch.tensor([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=torch.long)


@dataclass
class GridLookup:
    """Where a batch of points reads the table: flat entry index [N, levels, 4] and bilinear
    weight [N, levels, 4] of each corner, plus what the table gradient needs, built on the
    first backward pass and kept for the next ones (a full-batch fit reuses one lookup).

    The table gradient is the transposed interpolation. On the CPU it is a sparse
    [entries, N * levels] matrix product: torch's own backward of the gather (an index_add over
    4 * levels rows per point) was a quarter of a training step, the product ten times faster.
    On CUDA, cuSPARSE sums that product in a varying order, so two fits with one seed drifted
    apart (measured on an H200); there each entry's contributions are summed in a fixed order
    over a stable sort of the indices instead, which made the fits bit-identical at the same
    speed.
    """

    index: torch.Tensor
    weight: torch.Tensor
    _transpose: torch.Tensor | None = field(default=None, repr=False)
    _segments: tuple[torch.Tensor, ...] | None = field(default=None, repr=False)

    def table_gradient(self, grad: torch.Tensor, entries: int) -> torch.Tensor:
        """d loss / d table [entries, F] from d loss / d features [N, levels, F]."""
        if grad.is_cuda:
            return self.segment_sums(grad, entries)
        return self.sparse_product(grad, entries)

    def sparse_product(self, grad: torch.Tensor, entries: int) -> torch.Tensor:
        if self._transpose is None:
            rows = torch.arange(self.index.shape[0] * self.index.shape[1],
                                device=self.index.device).repeat_interleave(4)
            coo = torch.sparse_coo_tensor(torch.stack([self.index.reshape(-1), rows]),
                                          self.weight.reshape(-1), (entries, len(rows) // 4),
                                          check_invariants=False)
            with warnings.catch_warnings():  # "sparse CSR support is in beta"
                warnings.simplefilter("ignore", UserWarning)
                self._transpose = coo.coalesce().to_sparse_csr()
        return self._transpose @ grad.reshape(-1, grad.shape[-1]).contiguous()

    def segment_sums(self, grad: torch.Tensor, entries: int) -> torch.Tensor:
        if self._segments is None:
            flat = self.index.reshape(-1)
            order = torch.argsort(flat, stable=True)
            unique, counts = torch.unique_consecutive(flat[order], return_counts=True)
            self._segments = (order, unique, counts)
        order, unique, counts = self._segments
        features = grad.shape[-1]
        contributions = (grad[:, :, None, :] * self.weight[..., None]).reshape(-1, features)
        table = grad.new_zeros(entries, features)
        table[unique] = torch.segment_reduce(contributions[order], "sum", lengths=counts)
        return table


class _Interpolate(torch.autograd.Function):
    """features [N, levels, F] = bilinear read of table [entries, F] at `lookup`."""

    @staticmethod
    def forward(ctx, table: torch.Tensor, lookup: GridLookup) -> torch.Tensor:
        ctx.lookup, ctx.entries = lookup, table.shape[0]
        index, weight = lookup.index, lookup.weight
        feats = table.index_select(0, index.reshape(-1)).view(*index.shape, table.shape[1])
        return (feats * weight[..., None]).sum(dim=2)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return ctx.lookup.table_gradient(grad, ctx.entries), None


class HashGrid(nn.Module):
    """Vectorised over levels and corners: one gather per forward pass."""

    def __init__(self, config: ModelConfig, generator: torch.Generator) -> None:
        super().__init__()
        levels = grid_levels(config)
        self.features = config.grid_features
        self.n_levels = len(levels)
        total = levels[-1].offset + levels[-1].size
        # Stored flat, exactly tcnn's layout; features are viewed as [entries, F].
        self.params = nn.Parameter(torch.randn(total * self.features, generator=generator) * 0.01)
        self.register_buffer("scale", torch.tensor([lv.scale for lv in levels]), persistent=False)
        self.register_buffer("resolution", torch.tensor([lv.resolution for lv in levels]),
                             persistent=False)
        self.register_buffer("size", torch.tensor([lv.size for lv in levels]), persistent=False)
        self.register_buffer("offset", torch.tensor([lv.offset for lv in levels]), persistent=False)
        self.dense_levels = sum(lv.dense for lv in levels)
        assert all(lv.dense for lv in levels[: self.dense_levels])

    @property
    def output_width(self) -> int:
        return self.n_levels * self.features

    def lookup(self, unit_coords: torch.Tensor) -> GridLookup:
        """The corners each point reads (see GridLookup)."""
        pos = unit_coords[:, None, :] * self.scale[None, :, None] + 0.5          # [N, L, 2]
        cell = torch.floor(pos)
        frac = pos - cell
        corner = cell.long()[:, :, None, :] + _CORNERS.to(pos.device)[None, None]  # [N, L, 4, 2]
        gx, gy = corner[..., 0], corner[..., 1]
        # Levels grow, so the dense ones are a prefix: each kind is computed only where used.
        # (Dense indices stay far below 2^32: a dense level has at most 2^24 entries.)
        d = self.dense_levels
        index = torch.cat([gx[:, :d] + gy[:, :d] * self.resolution[None, :d, None],
                           spatial_hash(gx[:, d:], gy[:, d:])], dim=1)
        index = index % self.size[None, :, None] + self.offset[None, :, None]
        along_x = torch.stack([1 - frac[..., 0], frac[..., 0]], dim=-1)          # [N, L, 2]
        along_y = torch.stack([1 - frac[..., 1], frac[..., 1]], dim=-1)
        weight = (along_y[..., :, None] * along_x[..., None, :]).flatten(-2)    # corner order
        return GridLookup(index, weight)

    def forward(self, unit_coords: torch.Tensor, lookup: GridLookup | None = None
                ) -> torch.Tensor:
        """unit_coords [N, 2] in [0, 1]^2 -> features [N, levels * F] (level-major).

        `lookup`, the result of `lookup(unit_coords)`, skips recomputing the indices: during a
        full-batch fit the coordinates never change, and the lookup keeps its sparse transpose.
        """
        lookup = lookup if lookup is not None else self.lookup(unit_coords)
        table = self.params.view(-1, self.features)
        return _Interpolate.apply(table, lookup).reshape(len(unit_coords), -1)
