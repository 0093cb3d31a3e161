"""The spatial mask network: hash grid -> ReLU MLP -> sigmoid, one scalar per high band of the
embedding and per neuron group of each hidden layer."""

from __future__ import annotations

import weakref

import torch
from torch import nn

from ..config import ModelConfig
from .hash_grid import HashGrid
from .tcnn_grid import TcnnHashGrid, tcnn_available


LOOKUP_CACHE_PIXELS = 2**18
"""Coordinates whose grid lookups the mask network keeps between calls."""


class MaskNetwork(nn.Module):
    def __init__(self, config: ModelConfig, generator: torch.Generator,
                 use_tcnn: bool = False) -> None:
        super().__init__()
        self.grid = TcnnHashGrid(config, generator) if use_tcnn else HashGrid(config, generator)
        width = self.grid.output_width
        bound_in = 1.0 / width**0.5
        bound_out = 1.0 / config.mask_hidden**0.5
        self.hidden_weight = nn.Parameter((torch.rand(config.mask_hidden, width,
                                                      generator=generator) * 2 - 1) * bound_in)
        self.hidden_bias = nn.Parameter(torch.zeros(config.mask_hidden))
        self.out_weight = nn.Parameter((torch.rand(config.n_masks, config.mask_hidden,
                                                   generator=generator) * 2 - 1) * bound_out)
        # Zero output bias: with tiny grid features every mask starts near sigmoid(0) = 0.5.
        self.out_bias = nn.Parameter(torch.zeros(config.n_masks))
        # Grid lookups of the coordinate tensors seen last, newest last, at most
        # LOOKUP_CACHE_PIXELS rows in all (a full-batch fit's image, or a mini-batch fit's
        # fixed batches). Each is held by weak reference to that very tensor (and its version
        # counter), so a new or modified tensor never hits.
        self._lookups: dict[int, tuple[weakref.ref, int, object]] = {}

    def _grid_lookup(self, coords: torch.Tensor, unit: torch.Tensor):
        entry = self._lookups.pop(id(coords), None)
        if entry is None or entry[0]() is not coords or entry[1] != coords._version:
            with torch.no_grad():
                entry = (weakref.ref(coords), coords._version, self.grid.lookup(unit))
        self._lookups[id(coords)] = entry
        held = 0
        for key in reversed(list(self._lookups)):   # evict the oldest beyond the bound
            tensor = self._lookups[key][0]()
            held += len(tensor) if tensor is not None else 0
            if tensor is None or (held > LOOKUP_CACHE_PIXELS and key != id(coords)):
                del self._lookups[key]
        return entry[2]

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        """coords [N, 2] in [-1, 1] -> masks [N, n_masks] in (0, 1)."""
        unit = (coords.clamp(-1, 1) + 1) * 0.5
        features = self.grid(unit, self._grid_lookup(coords, unit))
        hidden = torch.relu(nn.functional.linear(features, self.hidden_weight,
                                                 self.hidden_bias))
        return torch.sigmoid(nn.functional.linear(hidden, self.out_weight, self.out_bias))


def choose_tcnn(device: torch.device, backend: str) -> bool:
    """backend "auto" takes tinycudann when it is importable on CUDA; "torch" never does."""
    if backend == "torch":
        return False
    if backend == "tcnn":
        if not tcnn_available(device):
            raise RuntimeError("the tcnn grid backend needs CUDA and the tinycudann package")
        return True
    return tcnn_available(device)
