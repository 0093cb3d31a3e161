"""SIREN layers (Sitzmann et al. 2020): sin(omega_0 (W x + b)) with their special init."""

from __future__ import annotations

import math

import torch
from torch import nn


class SineLayer(nn.Module):
    """A linear map followed by sin(omega_0 * .).

    `first` selects SIREN's first-layer init U(+-1/fan_in); hidden layers use
    U(+-sqrt(6/fan_in)/omega_0), which keeps pre-activations in the well-behaved range.
    `parts` (layout.weight_parts: attribute name and columns, left to right) holds the weight
    as several parameters, so that each is coded with its own step; the initial values, the
    function and the gradients are those of the whole matrix.
    """

    def __init__(
        self, in_features: int, out_features: int, omega_0: float, first: bool,
        generator: torch.Generator, parts: list[tuple[str, int]] | None = None,
    ) -> None:
        super().__init__()
        self.omega_0 = float(omega_0)
        bound = 1.0 / in_features if first else math.sqrt(6.0 / in_features) / omega_0
        weight = _uniform((out_features, in_features), bound, generator)
        parts = parts or [("weight", in_features)]
        self.part_names = tuple(name for name, _ in parts)
        for name, piece in zip(self.part_names, weight.split([n for _, n in parts], dim=1)):
            self.register_parameter(name, nn.Parameter(piece.clone()))
        self.bias = nn.Parameter(_uniform((out_features,), 1.0 / math.sqrt(in_features) / omega_0,
                                          generator))

    def weight_parts(self) -> list[tuple[str, nn.Parameter]]:
        """The parameters that hold the weight matrix, left to right, by attribute name."""
        return [(name, getattr(self, name)) for name in self.part_names]

    def full_weight(self) -> torch.Tensor:
        """The weight matrix (the parameter itself when it is not split)."""
        parts = [part for _, part in self.weight_parts()]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # omega_0 scales the (small) weights rather than the (large) pre-activations: the
        # same function and gradients, one pass less over an [N, out] tensor.
        return torch.sin(nn.functional.linear(x, self.omega_0 * self.full_weight(),
                                              self.omega_0 * self.bias))


class LinearLayer(nn.Module):
    """The output layer, initialised like the hidden sine layers (as SIREN does)."""

    def __init__(self, in_features: int, out_features: int, omega_0: float,
                 generator: torch.Generator) -> None:
        super().__init__()
        bound = math.sqrt(6.0 / in_features) / omega_0
        self.weight = nn.Parameter(_uniform((out_features, in_features), bound, generator))
        self.bias = nn.Parameter(torch.zeros(out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight, self.bias)


def _uniform(shape: tuple[int, ...], bound: float, generator: torch.Generator) -> torch.Tensor:
    return (torch.rand(shape, generator=generator) * 2 - 1) * bound
