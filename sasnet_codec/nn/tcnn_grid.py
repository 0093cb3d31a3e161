"""Optional tinycudann backend for the hash grid (CUDA only).

Shares the flat parameter layout of `HashGrid`, so weights move between backends by copying
`params`. Computes in fp32 (not tcnn's fp16 default) so that the two backends agree to float
tolerance and a file encoded with one decodes identically enough with the other.
"""

from __future__ import annotations

import torch
from torch import nn

from ..config import ModelConfig
from ..layout import grid_levels, grid_parameter_count


def tcnn_available(device: torch.device) -> bool:
    if device.type != "cuda":
        return False
    try:
        import tinycudann  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


class TcnnHashGrid(nn.Module):
    """tinycudann.Encoding("HashGrid") with this package's config and parameter layout."""

    def __init__(self, config: ModelConfig, generator: torch.Generator) -> None:
        super().__init__()
        import tinycudann as tcnn

        levels = grid_levels(config)
        self.n_levels, self.features = len(levels), config.grid_features
        self.encoding = tcnn.Encoding(
            n_input_dims=2,
            encoding_config={
                "otype": "HashGrid",
                "n_levels": config.grid_levels,
                "n_features_per_level": config.grid_features,
                "log2_hashmap_size": config.grid_log2_size,
                "base_resolution": config.grid_base_resolution,
                "per_level_scale": config.grid_per_level_scale,
                "interpolation": "Linear",
            },
            dtype=torch.float32,
        )
        expected = grid_parameter_count(config)
        if self.encoding.params.numel() != expected:
            raise RuntimeError(
                f"tinycudann grid holds {self.encoding.params.numel()} parameters, "
                f"expected {expected}: its layout differs from this package's"
            )
        with torch.no_grad():
            self.encoding.params.copy_(torch.randn(expected, generator=generator) * 0.01)

    @property
    def params(self) -> nn.Parameter:
        return self.encoding.params

    @property
    def output_width(self) -> int:
        return self.n_levels * self.features

    def lookup(self, unit_coords: torch.Tensor) -> None:
        return None  # tinycudann computes its own indices on the fly

    def forward(self, unit_coords: torch.Tensor, lookup: None = None) -> torch.Tensor:
        return self.encoding(unit_coords.contiguous()).float()
