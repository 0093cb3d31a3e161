"""SASNet, and its two ablations (the embedding without masks, and SIREN), built only from a
ModelConfig. The same seed and config give the same initial network everywhere."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .config import ModelConfig
from .layout import weight_parts
from .nn.embedding import FrequencyEmbedding
from .nn.masks import MaskNetwork, choose_tcnn
from .nn.sine import LinearLayer, SineLayer


class SASNet(nn.Module):
    """coords [N, 2] in [-1, 1] (long image side spans [-1, 1]) -> values [N, channels]."""

    def __init__(self, config: ModelConfig, device: torch.device | str = "cpu",
                 grid_backend: str = "auto") -> None:
        super().__init__()
        self.config = config
        generator = torch.Generator().manual_seed(config.seed)
        width = config.embedding_width
        if config.has_embedding:
            self.first = FrequencyEmbedding(config, generator)
        else:
            self.first = SineLayer(2, width, config.omega_0, first=True, generator=generator)
        self.hidden = nn.ModuleList()
        for i in range(config.hidden_layers):
            fan_in = width if i == 0 else config.hidden_width
            self.hidden.append(SineLayer(fan_in, config.hidden_width, config.omega_0,
                                         first=False, generator=generator,
                                         parts=weight_parts(config, i, fan_in)))
        self.output = LinearLayer(config.hidden_width, config.channels, config.omega_0, generator)
        self.masks: MaskNetwork | None = None
        if config.has_masks:
            use_tcnn = choose_tcnn(torch.device(device), grid_backend)
            self.masks = MaskNetwork(config, generator, use_tcnn=use_tcnn)
            # A 0/1 matrix that spreads each band's mask over its (unequal) band of embedding
            # rows: a tiny matmul, much faster than a per-neuron gather forward and backward.
            # Row 0 belongs to the low band, which is never masked (its mask is 1). Hidden
            # groups are equal, so their masks broadcast over a [N, groups, size] view.
            bands = nn.functional.one_hot(self.first.band, config.n_bands + 1).T.float()
            self.register_buffer("band_spread", bands, persistent=False)
        self.to(device)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        h = self.first(coords)
        if self.masks is None:
            for layer in self.hidden:
                h = layer(h)
            return self.output(h)
        masks = self.masks(coords)
        cfg = self.config
        band_masks = torch.cat([torch.ones_like(masks[:, :1]), masks[:, : cfg.n_bands]], dim=1)
        h = h * (band_masks @ self.band_spread)
        for i, layer in enumerate(self.hidden):
            start = cfg.n_bands + i * cfg.n_groups
            h = layer(h).view(len(h), cfg.n_groups, -1)
            h = (h * masks[:, start : start + cfg.n_groups, None]).view(len(h), -1)
        return self.output(h)

    @torch.no_grad()
    def evaluate(self, coords: np.ndarray) -> np.ndarray:
        """forward() on numpy coordinates, on the model's device (render.Network)."""
        device = next(self.parameters()).device
        return self(torch.from_numpy(coords).to(device)).float().cpu().numpy()

    def coded_parameters(self) -> list[tuple[str, nn.Parameter]]:
        """Every trainable tensor, in the fixed order the bitstream stores them."""
        params: list[tuple[str, nn.Parameter]] = []
        if isinstance(self.first, FrequencyEmbedding):
            params.append(("embedding.phase", self.first.phase))
        else:
            params += [("first.weight", self.first.weight), ("first.bias", self.first.bias)]
        for i, layer in enumerate(self.hidden):
            params += [(f"hidden{i}.{part}", p) for part, p in layer.weight_parts()]
            params.append((f"hidden{i}.bias", layer.bias))
        params += [("output.weight", self.output.weight), ("output.bias", self.output.bias)]
        if self.masks is not None:
            m = self.masks
            params += [
                ("grid.table", m.grid.params),
                ("mask.hidden.weight", m.hidden_weight), ("mask.hidden.bias", m.hidden_bias),
                ("mask.out.weight", m.out_weight), ("mask.out.bias", m.out_bias),
            ]
        return params

    def quantization_stages(self, last_hidden: bool = False) -> list[list[str]]:
        """Coded tensors in the groups the encoder rounds one at a time, input side first,
        retraining the still-float rest after each (quantize.round_in_stages): the mask path,
        then the sine layers up to the last hidden one (the first layer's tensors with the layer
        they feed), and that one too if `last_hidden`. The output is left to the fine-tune:
        nothing would stay float after it to absorb its error."""
        names = [name for name, _ in self.coded_parameters()]
        first = [name for name in names if name.startswith(("embedding.", "first."))]
        stages = [[name for name in names if name.startswith(("grid.", "mask."))]]
        for i in range(len(self.hidden) - (0 if last_hidden else 1)):
            layer = [name for name in names if name.startswith(f"hidden{i}.")]
            stages.append((first if i == 0 else []) + layer)
        return [stage for stage in stages if stage]

    def weight_matrices(self) -> list[torch.Tensor]:
        """The sine network's weight matrices, which the fit's rate term shrinks: whole, so a
        split one is joined again (its values now: call this afresh after each step). The grid
        and the mask decoder are left out: on the decoder the term costs more distortion than
        the rate it saves, and with the grid and phases as well (no floor at the quantization
        step) the fit collapses (benchmarks/results/kodak-mini/ablation.md)."""
        first = [] if isinstance(self.first, FrequencyEmbedding) else [self.first.weight]
        return first + [layer.full_weight() for layer in self.hidden] + [self.output.weight]

    def backbone_and_mask_parameters(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """Split for the two learning rates: sine layers and phases vs grid and mask decoder."""
        mask_ids = {id(p) for p in self.masks.parameters()} if self.masks is not None else set()
        backbone = [p for _, p in self.coded_parameters() if id(p) not in mask_ids]
        masks = [p for _, p in self.coded_parameters() if id(p) in mask_ids]
        return backbone, masks
