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

import torch
from torch import nn

from ..config import ModelConfig
from ..layout import grid_levels

_HASH_PRIME_Y = 2654435761
_UINT32 = 0xFFFFFFFF


_CORNERS = torch.tensor([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=torch.long)


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
        self.register_buffer("dense", torch.tensor([lv.dense for lv in levels]), persistent=False)

    @property
    def output_width(self) -> int:
        return self.n_levels * self.features

    def corner_indices(self, unit_coords: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Flat entry index [N, levels, 4] and bilinear weight [N, levels, 4] of each corner."""
        pos = unit_coords[:, None, :] * self.scale[None, :, None] + 0.5          # [N, L, 2]
        cell = torch.floor(pos)
        frac = pos - cell
        corner = cell.long()[:, :, None, :] + _CORNERS.to(pos.device)[None, None]  # [N, L, 4, 2]
        gx, gy = corner[..., 0], corner[..., 1]
        dense_index = gx + gy * self.resolution[None, :, None]
        hashed_index = (gx ^ ((gy * _HASH_PRIME_Y) & _UINT32)) & _UINT32
        index = torch.where(self.dense[None, :, None], dense_index & _UINT32, hashed_index)
        index = index % self.size[None, :, None] + self.offset[None, :, None]
        corner_frac = torch.where(_CORNERS.to(pos.device).bool()[None, None], frac[:, :, None, :],
                                  1 - frac[:, :, None, :])
        weight = corner_frac[..., 0] * corner_frac[..., 1]
        return index, weight

    def forward(self, unit_coords: torch.Tensor,
                lookup: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """unit_coords [N, 2] in [0, 1]^2 -> features [N, levels * F] (level-major).

        `lookup`, the result of `corner_indices(unit_coords)`, skips recomputing the indices:
        during a full-batch fit the coordinates never change and indexing is most of the cost.
        """
        index, weight = lookup if lookup is not None else self.corner_indices(unit_coords)
        table = self.params.view(-1, self.features)
        # index_select (backward: index_add) is several times faster on CPU than table[index].
        feats = table.index_select(0, index.reshape(-1)).view(*index.shape, self.features)
        return (feats * weight[..., None]).sum(dim=2).reshape(len(unit_coords), -1)
