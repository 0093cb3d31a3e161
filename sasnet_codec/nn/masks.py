"""The spatial mask network: hash grid -> ReLU MLP -> sigmoid, one scalar per high band of the
embedding and per neuron group of each hidden layer."""

from __future__ import annotations

import weakref

import torch
from torch import nn

from ..config import ModelConfig
from .hash_grid import HashGrid
from .tcnn_grid import TcnnHashGrid, tcnn_available


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
        # The grid lookup of the last coordinate tensor seen. Held by weak reference to that
        # very tensor (and its version counter), so a new or modified tensor never hits it.
        self._lookup_for: weakref.ref | None = None
        self._lookup_version = -1
        self._lookup = None

    def _grid_lookup(self, coords: torch.Tensor, unit: torch.Tensor):
        cached = self._lookup_for() if self._lookup_for is not None else None
        if cached is not coords or self._lookup_version != coords._version:
            with torch.no_grad():
                self._lookup = self.grid.lookup(unit)
            self._lookup_for = weakref.ref(coords)
            self._lookup_version = coords._version
        return self._lookup

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
