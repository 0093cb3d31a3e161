"""Frozen configuration dataclasses: every hyper-parameter of the model, the fit and the
quantizer lives here and nowhere else (how a quality level chooses them: presets.Recipe).

`ModelConfig` crosses the bitstream, so all of its fields are small integers (no floats whose
decimal spelling could differ between machines); `to_dict`/`from_dict` give the plain-number
dictionary that the bitstream and the JSON reports carry.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from . import layout
from .errors import CodecError

ARCHITECTURES = ("sasnet", "femb", "siren")
"""sasnet: frequency embedding + masks; femb: the embedding without masks (paper ablation);
siren: a plain SIREN with a trainable first layer (the COIN-style baseline)."""


class Settings:
    """`replace` for every frozen config (validation reruns in __post_init__)."""

    def replace(self, **changes: Any):
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class ModelConfig(Settings):
    """Architecture of one network. Integer-only so that it packs exactly into a header."""

    arch: str = "sasnet"
    channels: int = 3                # output channels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
    embedding_width: int = 64        # first-layer width (frequency embedding or SIREN layer)
    hidden_width: int = 48           # width of every hidden sine layer
    hidden_layers: int = 2
    omega_0: int = 30                # hidden sine layers compute sin(omega_0 * (W h + b))
    band_limit: int = 32             # B: high frequencies k lie in [-B, B]^2
    low_freq_range: int = 6          # L: low frequencies k lie in [-L, L]^2
    low_freq_percent: int = 50       # share of the embedding given to the low box
    n_bands: int = 4                 # high-frequency bands, one mask each
    n_groups: int = 8                # neuron groups per hidden layer, one mask each
    period_percent: int = 250        # embedding period in 1/100 of the [-1, 1] span (200 = 2)
    grid_levels: int = 6
    grid_features: int = 2
    grid_log2_size: int = 8          # log2 of the largest number of entries per level
    grid_base_resolution: int = 4
    grid_scale_x64: int = 96         # per-level resolution growth, in 1/64 (96 = 1.5)
    mask_hidden: int = 16            # hidden width of the ReLU mask decoder
    seed: int = 0                    # draws the embedding frequencies and the initial weights
    # 1: the first hidden layer's weight is coded as two tensors, its low-band and its
    # high-band columns, each with its own quantization step (layout.weight_column_split)
    split_first_hidden: int = 0

    def __post_init__(self) -> None:
        validate_model_config(self)

    @property
    def has_embedding(self) -> bool:
        return self.arch in ("sasnet", "femb")

    @property
    def has_masks(self) -> bool:
        return self.arch == "sasnet"

    @property
    def period(self) -> float:
        return self.period_percent / 100.0

    @property
    def grid_per_level_scale(self) -> float:
        return self.grid_scale_x64 / 64.0

    @property
    def n_masks(self) -> int:
        return self.n_bands + self.hidden_layers * self.n_groups

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "ModelConfig":
        return _from_dict(cls, values)


# Hard limits for any config, including one read from an untrusted header: they bound the
# memory a decoder allocates before it has checked a single payload byte.
MODEL_LIMITS: dict[str, tuple[int, int]] = {
    "channels": (1, 4),
    "embedding_width": (2, 4096),
    "hidden_width": (1, 4096),
    "hidden_layers": (1, 16),
    "omega_0": (1, 1000),
    "band_limit": (1, 1024),
    "low_freq_range": (1, 256),
    "low_freq_percent": (0, 100),
    "n_bands": (1, 64),
    "n_groups": (1, 4096),
    "period_percent": (100, 10000),
    "grid_levels": (1, 32),
    "grid_features": (1, 8),
    "grid_log2_size": (2, 24),
    "grid_base_resolution": (1, 4096),
    "grid_scale_x64": (64, 512),
    "mask_hidden": (1, 1024),
    "seed": (0, 2**32 - 1),
    "split_first_hidden": (0, 1),
}


def validate_model_config(config: ModelConfig) -> None:
    """Raise CodecError if a field is out of range or the fields contradict each other."""
    if config.arch not in ARCHITECTURES:
        raise CodecError(f"unknown architecture {config.arch!r}; expected one of {ARCHITECTURES}")
    for name, (low, high) in MODEL_LIMITS.items():
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise CodecError(f"model setting {name}={value!r} is outside [{low}, {high}]")
    if config.has_masks and config.hidden_width % config.n_groups:
        raise CodecError(
            f"hidden_width {config.hidden_width} is not a multiple of n_groups {config.n_groups}"
        )
    finest = config.grid_base_resolution * config.grid_per_level_scale ** (config.grid_levels - 1)
    if config.has_masks and finest > 1 << 20:
        raise CodecError(f"the finest hash-grid level ({finest:.0f} cells) is beyond 2^20")
    if config.has_embedding:
        if config.low_freq_range >= config.band_limit:
            raise CodecError("low_freq_range must be smaller than band_limit")
        high_count = layout.high_frequency_count(config)
        if config.has_masks and high_count < config.n_bands:
            raise CodecError("the embedding is too narrow for its number of bands")
        if high_count > layout.half_plane_size(config.low_freq_range, config.band_limit):
            raise CodecError("embedding_width asks for more high frequencies than the band holds")
        if config.split_first_hidden and high_count < 1:
            raise CodecError("split_first_hidden needs high frequencies to split off")
    elif config.split_first_hidden:
        raise CodecError("split_first_hidden needs a frequency embedding (sasnet or femb)")


def require(condition: bool, message: str) -> None:
    """Settings out of range are the user's input: a one-line CodecError, not an assert."""
    if not condition:
        raise CodecError(message)


@dataclass(frozen=True)
class FitConfig(Settings):
    """The encoder's optimisation schedule (not stored in the bitstream)."""

    steps: int = 1000
    backbone_lr: float = 2e-3        # sine layers and embedding phases
    mask_lr: float = 1e-2            # hash grid and mask decoder
    mask_warmup: float = 0.0         # share of the steps over which mask_lr ramps up from 0
    final_lr_fraction: float = 0.01  # cosine decay ends at this fraction of each rate
    # Adam's decays, for the fit, the rounding stages and the fine-tune: the first moment's
    # sets how many recent gradients (about 1 / (1 - adam_beta1)) make a step's direction, the
    # second moment's how many set each weight's step size
    adam_beta1: float = 0.9
    adam_beta2: float = 0.99
    max_batch_pixels: int = 2**18    # full-batch below this, random mini-batches above
    target_psnr: float | None = None # stop early once the fit reaches this PSNR (dB)
    rate_weight: float = 0.0         # ln-MSE worth one bit per parameter (0: distortion alone)
    seed: int = 0
    device: str = "auto"             # "auto" (CUDA when present), "cpu", "cuda", "cuda:1", ...
    log_every: int = 25              # progress-bar refresh, in steps

    @property
    def adam_betas(self) -> tuple[float, float]:
        return self.adam_beta1, self.adam_beta2

    def __post_init__(self) -> None:
        require(self.steps >= 1, "the number of fitting steps must be at least 1")
        require(self.backbone_lr > 0 and self.mask_lr > 0, "learning rates must be positive")
        require(0 < self.final_lr_fraction <= 1, "final_lr_fraction must be in (0, 1]")
        require(0 <= self.adam_beta1 < 1, "adam_beta1 must be in [0, 1)")
        require(0 < self.adam_beta2 < 1, "adam_beta2 must be in (0, 1)")
        require(0 <= self.mask_warmup < 1, "mask_warmup must be in [0, 1)")
        require(self.max_batch_pixels >= 1 and self.log_every >= 1,
                "max_batch_pixels and log_every must be at least 1")
        require(self.target_psnr is None or math.isfinite(self.target_psnr),
                "the target PSNR must be a finite number")
        require(math.isfinite(self.rate_weight) and self.rate_weight >= 0,
                "rate_weight cannot be negative")


@dataclass(frozen=True)
class QuantConfig(Settings):
    """How trained float weights become integer symbols."""

    rd_slope: float = 1.0            # lambda = rd_slope * MSE / bits: the rate-distortion trade
    finetune_steps: int = 150        # quantization-aware steps after the step search
    # each tensor's fine-tune rate as a share of its own quantization step: the fine-tune
    # mostly decides which way weights near a rounding boundary go, and how far that is
    # depends on the step (one rate for every tensor did worse: ablation.md)
    finetune_step_share: float = 0.002
    # before the fine-tune, the network is rounded a stage at a time (SASNet.quantization_stages)
    # and the still-float rest trains this many steps after each stage, or each portion of one
    # (stage_splits), at stage_lr_share of the fit's rates, to absorb its rounding error (0:
    # everything rounded at once)
    stage_steps: int = 0
    stage_lr_share: float = 0.1
    stage_splits: int = 1            # portions per stage, largest magnitudes rounded first
    stage_last_hidden: bool = False  # the last hidden layer rounded in a stage of its own too
    search_pixels: int = 2**16       # pixels sampled to measure distortion in the step search

    def __post_init__(self) -> None:
        require(math.isfinite(self.rd_slope) and self.rd_slope > 0, "rd_slope must be positive")
        require(self.finetune_steps >= 0, "finetune_steps cannot be negative")
        require(math.isfinite(self.finetune_step_share) and self.finetune_step_share > 0,
                "finetune_step_share must be positive")
        require(self.stage_steps >= 0, "stage_steps cannot be negative")
        require(math.isfinite(self.stage_lr_share) and self.stage_lr_share > 0,
                "stage_lr_share must be positive")
        require(self.stage_splits >= 1, "stage_splits must be at least 1")
        require(isinstance(self.stage_last_hidden, bool),
                "stage_last_hidden must be true or false")
        require(self.search_pixels >= 1, "search_pixels must be at least 1")


@dataclass(frozen=True)
class EncoderConfig(Settings):
    """Everything the encoder needs: the model to fit, how to fit it, how to quantize it."""

    model: ModelConfig = field(default_factory=ModelConfig)
    fit: FitConfig = field(default_factory=FitConfig)
    quant: QuantConfig = field(default_factory=QuantConfig)


def _from_dict(cls: type, values: Mapping[str, Any]) -> Any:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise CodecError(f"unknown {cls.__name__} settings: {sorted(unknown)}")
    return cls(**values)
