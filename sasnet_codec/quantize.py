"""From float weights to integer symbols: per-tensor steps chosen by measured rate and
distortion, then a quantization-aware fine-tune.

Step search. For every tensor and every candidate step (from the shared table, around the
tensor's spread) we measure the distortion the rounding adds on its own (a forward pass over a
pixel sample) and the bits its symbols cost (Laplace code length). Treating those as additive,
the best steps for a Lagrange multiplier lambda minimise sum(dD) + lambda * sum(bits), tensor by
tensor. lambda is the slope of the codec's own RD curve at the operating point: if
D ~ R^-gamma then -dD/dR = gamma * D / R, and we iterate lambda = rd_slope * D / R to a fixed
point. For a rate target we bisect lambda instead.

Staged rounding. With the steps fixed, the network is rounded a group of tensors at a time,
input side first (optionally each group in portions, largest weights first), and the
still-float rest trains a little after each at a fraction of the fit's rates, so the later
weights absorb the earlier ones' rounding error rather than stacking their own on top of it.

Fine-tune. With the steps fixed, the network trains a little more through straight-through
rounding (forward with rounded weights, gradients to the float shadow weights), so the other
weights learn to absorb each tensor's rounding error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from .config import FitConfig, QuantConfig
from .decoder import QuantizedTensor
from .entropy import SYMBOL_LIMIT, best_bits
from .fit import Schedule, Targets, batches_mse, optimise
from .model import SASNet
from .render import TILE_PIXELS
from .tables import QUANT_STEP_COUNT, quantization_step


def round_to_step(tensor: torch.Tensor, step_index: int) -> torch.Tensor:
    """Integer symbols (as a float tensor) of `tensor` on the table step."""
    return torch.round(tensor / quantization_step(step_index))


def on_step(tensor: torch.Tensor, step_index: int) -> torch.Tensor:
    """`tensor` rounded to the table step: the values the decoder will hold."""
    return round_to_step(tensor, step_index) * quantization_step(step_index)


def quantize_tensor(name: str, tensor: torch.Tensor, step_index: int) -> QuantizedTensor:
    """Symbols of `tensor`, clamped to the coder's range (the fine-tune may push a weight past
    the range its step was chosen for)."""
    symbols = round_to_step(tensor.detach().float().cpu(), step_index)
    symbols = symbols.clamp(-SYMBOL_LIMIT, SYMBOL_LIMIT)
    return QuantizedTensor(name, tuple(tensor.shape), step_index,
                           symbols.reshape(-1).numpy().astype(np.int32))


def quantize_model(model: SASNet, step_indices: dict[str, int]) -> list[QuantizedTensor]:
    return [quantize_tensor(name, p, step_indices[name]) for name, p in model.coded_parameters()]


def load_quantized(model: SASNet, tensors: list[QuantizedTensor]) -> None:
    """Overwrite the model's parameters with dequantized values (the decoder's weights)."""
    params = dict(model.coded_parameters())
    with torch.no_grad():
        for tensor in tensors:
            params[tensor.name].copy_(torch.from_numpy(tensor.values()))


@dataclass(frozen=True)
class Candidate:
    step_index: int
    added_mse: float     # distortion this rounding alone adds to the float model
    bits: float          # Laplace code length of the resulting symbols


class StepSearch:
    """Rate and distortion of every candidate step of every tensor, measured once; `choose`
    then answers any lambda (or rate target) without touching the network again."""

    def __init__(self, model: SASNet, targets: Targets,
                 coded: dict[str, np.ndarray] | None = None) -> None:
        """`coded`: the elements the file will code of tensors coded in part
        (bitstream.coded_elements); only their bits count."""
        tiles = targets.tiles(TILE_PIXELS)   # one set for every measurement: lookups cached
        self.base_mse = batches_mse(model, tiles)
        self.candidates: dict[str, list[Candidate]] = {}
        for name, param in model.coded_parameters():
            self.candidates[name] = self._measure(model, tiles, param, (coded or {}).get(name))

    def _measure(self, model: SASNet, tiles: list[Targets], param: nn.Parameter,
                 coded: np.ndarray | None) -> list[Candidate]:
        original = param.detach().clone()
        spread = float(original.std()) if original.numel() > 1 else float(original.abs().max())
        spread = max(spread, float(original.abs().max()) / 64, 1e-8)
        peak = float(original.abs().max())
        # Steps from spread/2 down to spread/512, two per octave.
        centre = -8.0 * math.log2(spread)
        indices = sorted({min(QUANT_STEP_COUNT - 1, max(0, round(centre + 8 + 4 * k)))
                          for k in range(0, 17)})
        found = []
        try:
            for index in indices:
                if peak / quantization_step(index) > SYMBOL_LIMIT - 1:
                    continue
                symbols = round_to_step(original, index)
                with torch.no_grad():
                    param.copy_(symbols * quantization_step(index))
                added = batches_mse(model, tiles) - self.base_mse
                flat = symbols.reshape(-1).cpu().numpy()
                bits = best_bits(flat if coded is None else flat[coded])
                found.append(Candidate(index, added, bits))
        finally:
            with torch.no_grad():
                param.copy_(original)
        return found

    def choose(self, lagrangian: float) -> dict[str, Candidate]:
        return {name: min(options, key=lambda c: c.added_mse + lagrangian * c.bits)
                for name, options in self.candidates.items()}

    def totals(self, choice: dict[str, Candidate]) -> tuple[float, float]:
        """(predicted MSE, predicted bits) of a choice."""
        mse = self.base_mse + sum(c.added_mse for c in choice.values())
        return max(mse, 1e-12), sum(c.bits for c in choice.values())

    def at_slope(self, rd_slope: float) -> dict[str, Candidate]:
        """Fixed point of lambda = rd_slope * D / R (a few iterations converge)."""
        choice = self.choose(0.0)
        for _ in range(8):
            mse, bits = self.totals(choice)
            choice = self.choose(rd_slope * mse / bits)
        return choice

    def at_bits(self, target_bits: float) -> dict[str, Candidate]:
        """The lowest-distortion choice whose predicted bits do not exceed target_bits
        (or the smallest rate there is, if none fits); bisection on log lambda."""
        low, high = -40.0, 10.0    # log2 of lambda: from almost free bits to almost free MSE
        best = self.choose(2.0**high)
        for _ in range(40):
            middle = 0.5 * (low + high)
            choice = self.choose(2.0**middle)
            if self.totals(choice)[1] <= target_bits:
                best, high = choice, middle
            else:
                low = middle
        return best


def round_in_stages(model: SASNet, step_indices: dict[str, int], targets: Targets,
                    config: QuantConfig, fit: FitConfig, progress: bool = True) -> None:
    """Round model.quantization_stages(config.stage_last_hidden) in turn, each in
    `config.stage_splits` portions of its entries (largest magnitudes first, as in incremental
    network quantization), and after each portion train what is still float for
    `config.stage_steps`; leaves the rounded tensors on their steps. The fine-tune alone
    cannot do this: at its rates it only picks rounding directions."""
    if config.stage_steps <= 0:
        return
    params = dict(model.coded_parameters())
    backbone, masks = model.backbone_and_mask_parameters()
    fixed = {name: torch.zeros_like(p, dtype=torch.bool) for name, p in params.items()}
    hooks = []
    number = 0
    try:
        for stage in model.quantization_stages(config.stage_last_hidden):
            for portion in range(1, config.stage_splits + 1):
                with torch.no_grad():
                    for name in stage:
                        param = params[name]
                        if portion == config.stage_splits:
                            param.copy_(on_step(param, step_indices[name]))
                            param.requires_grad_(False)   # no gradient work for fixed tensors
                            continue
                        fixed[name] = largest_first(param, fixed[name],
                                                    param.numel() * portion // config.stage_splits)
                        param.copy_(torch.where(fixed[name], on_step(param, step_indices[name]),
                                                param))
                        if portion == 1:   # a fresh Adam never moves an entry with no gradient
                            hooks.append(param.register_hook(
                                lambda grad, name=name: grad.masked_fill(fixed[name], 0)))
                groups = [([p for p in group if p.requires_grad], lr)   # the still-float rest
                          for group, lr in ((backbone, fit.backbone_lr), (masks, fit.mask_lr))]
                groups = [(group, lr) for group, lr in groups if group]
                schedule = Schedule(
                    steps=config.stage_steps,
                    learning_rates=tuple(config.stage_lr_share * lr for _, lr in groups),
                    final_lr_fraction=0.1, max_batch_pixels=fit.max_batch_pixels,
                    adam_betas=fit.adam_betas, seed=fit.seed + 1 + number,
                    description=f"rounding stage {number + 1}")
                optimise([group for group, _ in groups], model, targets, schedule, progress)
                number += 1
    finally:
        for hook in hooks:
            hook.remove()
        for p in params.values():
            p.requires_grad_(True)


def largest_first(tensor: torch.Tensor, fixed: torch.Tensor, count: int) -> torch.Tensor:
    """`fixed` grown to `count` entries by the largest magnitudes still outside it."""
    scores = torch.where(fixed, torch.inf, tensor.detach().abs()).reshape(-1)
    grown = torch.zeros_like(scores, dtype=torch.bool)
    grown[scores.topk(count).indices] = True
    return grown.reshape(tensor.shape)


def finetune_quantized(model: SASNet, step_indices: dict[str, int], targets: Targets,
                       config: QuantConfig, fit: FitConfig, progress: bool = True) -> None:
    """Straight-through quantization-aware training; leaves the best float shadow weights in
    the model (their rounding is what gets coded)."""
    if config.finetune_steps <= 0:
        return
    module_names = {id(p): name for name, p in model.named_parameters()}
    coded = model.coded_parameters()
    # (module path for functional_call, shadow weight, step index), resolved once.
    plan = [(module_names[id(p)], p, step_indices[name]) for name, p in coded]

    def forward(coords: torch.Tensor) -> torch.Tensor:
        rounded = {path: p + (on_step(p, index) - p).detach()
                   for path, p, index in plan}
        return functional_call(model, rounded, (coords,))

    rates = tuple(config.finetune_step_share * quantization_step(index) for _, _, index in plan)
    schedule = Schedule(
        steps=config.finetune_steps, learning_rates=rates,
        final_lr_fraction=0.1, max_batch_pixels=fit.max_batch_pixels,
        adam_betas=fit.adam_betas, seed=fit.seed, description="quantization-aware fine-tune",
    )
    optimise([[p] for _, p, _ in plan], forward, targets, schedule, progress)
