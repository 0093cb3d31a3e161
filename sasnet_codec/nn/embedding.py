"""SASNet's first layer: sin(W x + phase) with W frozen to integer frequencies, which
`frequencies.integer_frequencies` regenerates from the config: never stored."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..config import ModelConfig
from ..frequencies import frozen_embedding


class FrequencyEmbedding(nn.Module):
    """h = sin(2 pi k . x / period + phase); k frozen, phase trained. No omega_0 here."""

    def __init__(self, config: ModelConfig, generator: torch.Generator) -> None:
        super().__init__()
        weight, band = frozen_embedding(config)
        self.register_buffer("weight", torch.from_numpy(weight), persistent=False)
        self.register_buffer("band", torch.from_numpy(band), persistent=False)
        phase = torch.rand(len(band), generator=generator) * (2 * math.pi) - math.pi
        self.phase = nn.Parameter(phase)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        return torch.sin(coords @ self.weight.T + self.phase)
