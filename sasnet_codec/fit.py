"""The encoder's optimisation loop: overfit one network to one image.

One loop serves both phases of the encoder: the float fit here and the quantization-aware
fine-tune in quantize.py, which passes its own `forward` (the network with rounded weights).
The loop keeps the best parameters it has seen, so a late spike in the loss never reaches the
bitstream.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn
from tqdm.auto import tqdm

from .config import FitConfig, ModelConfig
from .coords import domain_extent, pixel_centres
from .device import resolve_device
from .image_io import ImageData
from .metrics import psnr_from_mse
from .model import SASNet


@dataclass(frozen=True)
class Targets:
    """An image as training pairs: coordinates [N, 2] and centred values [N, C]."""

    coords: torch.Tensor
    values: torch.Tensor

    @classmethod
    def from_image(cls, image: ImageData, device: torch.device) -> "Targets":
        extent = domain_extent(image.width, image.height)
        coords = torch.from_numpy(pixel_centres(image.width, image.height, extent)).to(device)
        values = torch.from_numpy(image.pixels).reshape(-1, image.channels).to(device) - 0.5
        return cls(coords, values)

    def batches(self, size: int, seed: int) -> list["Targets"]:
        """The pixels split once, in a seeded random order, into near-equal fixed batches of at
        most `size` (the whole image as one when it fits). Fixed tensors, so the mask
        network's grid lookups are computed once per batch rather than once per step."""
        count = math.ceil(len(self.coords) / size)
        if count == 1:
            return [self]
        return [self._rows(pick) for pick in self._shuffled(seed).chunk(count)]

    def tiles(self, size: int) -> list["Targets"]:
        """The pixels in order, in tiles of `size` (the whole image as one when it fits): made
        once, so a repeated measurement reuses their grid lookups too."""
        if len(self.coords) <= size:
            return [self]
        return [Targets(coords, values)
                for coords, values in zip(self.coords.split(size), self.values.split(size))]

    def sample(self, count: int, seed: int) -> "Targets":
        """At most `count` pixels drawn without replacement (all of them if fewer)."""
        if count >= len(self.coords):
            return self
        return self._rows(self._shuffled(seed)[:count])

    def _shuffled(self, seed: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(seed)
        return torch.randperm(len(self.coords), generator=generator).to(self.coords.device)

    def _rows(self, pick: torch.Tensor) -> "Targets":
        return Targets(self.coords[pick], self.values[pick])


@dataclass(frozen=True)
class Schedule:
    steps: int
    learning_rates: tuple[float, ...]   # one per parameter group
    final_lr_fraction: float
    max_batch_pixels: int
    adam_betas: tuple[float, float]
    target_psnr: float | None = None
    rate_weight: float = 0.0            # see `optimise`; 0 fits distortion alone
    warmups: tuple[float, ...] = ()     # per group: share of the steps to ramp its rate up
    seed: int = 0
    log_every: int = 25
    description: str = "fit"


@dataclass(frozen=True)
class FitResult:
    model: SASNet
    psnr: float        # dB, of the best parameters, on the whole image (float weights)
    steps: int         # steps actually run (fewer when the target PSNR was reached)
    seconds: float


def optimise(
    parameter_groups: list[list[nn.Parameter]],
    forward: Callable[[torch.Tensor], torch.Tensor],
    targets: Targets,
    schedule: Schedule,
    progress: bool = True,
    rated: Callable[[], Sequence[torch.Tensor]] = tuple,
) -> tuple[float, int]:
    """Adam with cosine decay, after a linear warm-up for the groups that have one; leaves the
    best parameters in place. Returns (PSNR dB, steps).

    The objective is ln MSE + rate_weight * (estimated bits of the tensors `rated()` returns,
    per parameter): a weight is worth keeping large only where it buys distortion. Its
    gradient is MSE's scaled by 1/MSE, so with rate_weight 0 the loss stays plain MSE.

    Full batch when the image has at most `max_batch_pixels` pixels; otherwise fixed, seeded
    mini-batches taken in turn, with the full-image PSNR measured at every log interval to pick
    the best.
    """
    groups = zip(parameter_groups, schedule.learning_rates)
    optimizer = torch.optim.Adam([{"params": group, "lr": lr} for group, lr in groups],
                                 betas=schedule.adam_betas)
    warmups = schedule.warmups + (0.0,) * (len(parameter_groups) - len(schedule.warmups))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, [
        functools.partial(learning_rate_factor, steps=schedule.steps, warmup=warmup,
                          floor=schedule.final_lr_fraction) for warmup in warmups])
    params = [p for group in parameter_groups for p in group]
    batches = targets.batches(schedule.max_batch_pixels, schedule.seed)
    full_batch = len(batches) == 1
    best_score, best_mse = math.inf, math.inf
    best_state = [p.detach().clone() for p in params]
    weight = schedule.rate_weight / sum(p.numel() for p in params)

    def score(mse: float, rate: torch.Tensor | None = None) -> float:
        """The objective of the current parameters, given their MSE (and their rate estimate,
        when the step has it already)."""
        if not weight:
            return math.log(max(mse, 1e-30))
        if rate is None:
            with torch.no_grad():
                rate = rate_estimate(rated())
        return math.log(max(mse, 1e-30)) + weight * rate.item()

    bar = tqdm(total=schedule.steps, desc=schedule.description, disable=not progress,
               leave=False, unit="step", dynamic_ncols=True)
    step = 0
    try:
        for step in range(1, schedule.steps + 1):
            batch = batches[(step - 1) % len(batches)]
            loss = torch.mean((forward(batch.coords) - batch.values) ** 2)
            rate = rate_estimate(rated()) if weight else None
            if full_batch and (value := score(mse := loss.item(), rate)) < best_score:
                best_score, best_mse = value, mse
                best_state = [p.detach().clone() for p in params]
            if weight:
                loss = loss + loss.detach() * weight * rate
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            if step % schedule.log_every == 0 or step == schedule.steps:
                if not full_batch:
                    mse = batches_mse(forward, batches)
                    if (value := score(mse)) < best_score:
                        best_score, best_mse = value, mse
                        best_state = [p.detach().clone() for p in params]
                bar.set_postfix(psnr=f"{psnr_from_mse(best_mse):.2f}dB", refresh=False)
                bar.update(step - bar.n)
                target = schedule.target_psnr
                if target is not None and psnr_from_mse(best_mse) >= target:
                    break
    finally:
        bar.close()
    final_mse = batches_mse(forward, batches)
    if score(final_mse) < best_score:
        best_mse = final_mse
    else:
        with torch.no_grad():
            for p, saved in zip(params, best_state):
                p.copy_(saved)
    return psnr_from_mse(best_mse), step


def learning_rate_factor(step: int, steps: int, warmup: float, floor: float) -> float:
    """The multiple of a group's learning rate at `step`: a linear ramp from 1/(warmup * steps)
    over the first `warmup` share of the steps, then the cosine from 1 down to `floor`. Adam's
    first steps move every entry by about its full rate whatever the gradient; the ramp keeps
    that from scrambling the hash grid and mask decoder, at their high rate, before the sine
    layers have anything for the masks to gate."""
    warmup_steps = warmup * steps
    if step < warmup_steps:
        return min(1.0, (step + 1) / warmup_steps)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * step / steps))


def rate_estimate(params: Sequence[torch.Tensor]) -> torch.Tensor:
    """Bits of the parameters up to a constant: a tensor coded with a Laplace of scale b costs
    about log2(2e b / step) per entry, so sum(n * log2(mean |w|)) moves as the file does with
    the steps held fixed (the 1e-6 keeps an all-zero tensor finite)."""
    return sum(p.numel() * torch.log2(p.abs().mean() + 1e-6) for p in params)


@torch.no_grad()
def batches_mse(forward: Callable[[torch.Tensor], torch.Tensor],
                batches: Sequence[Targets]) -> float:
    """MSE over a partition of the pixels (Targets.batches or .tiles), part by part so memory
    stays bounded; fixed parts find their grid lookups in the mask network's cache."""
    total = sum(torch.sum((forward(b.coords) - b.values) ** 2).item() for b in batches)
    return total / sum(b.values.numel() for b in batches)


def fit(image: ImageData, model_config: ModelConfig, fit_config: FitConfig,
        progress: bool = True, targets: Targets | None = None) -> FitResult:
    """Train a network of `model_config` on `image` (float weights). Seeded: on CPU the same
    inputs give the same model. `targets` may pass the image's pixels already on the device."""
    if model_config.channels != image.channels:
        model_config = model_config.replace(channels=image.channels)
    device = resolve_device(fit_config.device)
    start = time.perf_counter()
    model = SASNet(model_config, device=device)
    if targets is None:
        targets = Targets.from_image(image, device)
    backbone, masks = model.backbone_and_mask_parameters()
    groups, rates, warmups = [backbone], [fit_config.backbone_lr], [0.0]
    if masks:
        groups.append(masks)
        rates.append(fit_config.mask_lr)
        warmups.append(fit_config.mask_warmup)
    schedule = Schedule(
        steps=fit_config.steps, learning_rates=tuple(rates), warmups=tuple(warmups),
        final_lr_fraction=fit_config.final_lr_fraction,
        max_batch_pixels=fit_config.max_batch_pixels, adam_betas=fit_config.adam_betas,
        target_psnr=fit_config.target_psnr,
        rate_weight=fit_config.rate_weight, seed=fit_config.seed,
        log_every=fit_config.log_every, description="fit",
    )
    psnr, steps = optimise(groups, model, targets, schedule, progress, model.weight_matrices)
    return FitResult(model, psnr, steps, time.perf_counter() - start)
