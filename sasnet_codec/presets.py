"""Quality presets: a quality level names a parameter budget per pixel; the network shape for a
budget follows one recipe, scaled to the image's size.

Rate range: on Kodak-mini (192x128) quality 1 lands near 0.3 bpp and quality 8 near 5 bpp;
quality 5, the default, near 1.5 bpp (see benchmarks/results for measured numbers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from .config import (MODEL_LIMITS, EncoderConfig, FitConfig, ModelConfig, QuantConfig,
                     Settings, require)
from .errors import CodecError
from .layout import high_frequency_count, parameter_count, parameter_shapes

QUALITY_LEVELS = tuple(range(1, 9))
DEFAULT_QUALITY = 5
EXPECTED_BITS_PER_PARAMETER = 5.0
"""Prior for the rate of a coded parameter, used to size a network for a bpp target."""
MIN_BUDGET = 1000
"""Smallest network a preset builds: tiny images get this much whatever their pixel count."""
MASK_SHAPES = ((16, 8, 4), (8, 4, 2), (4, 2, 2))
"""Mask decoders, richest first, as (hidden width, neuron groups per hidden layer, embedding
bands). A budget takes the richest whose decoder fits in its recipe's mask_share (the leanest
when none does). The rich decoder alone would be 45% of a Kodak-mini quality-1 network and 20%
at quality 3 (with two grid features, as measured); the parameters it frees buy more in the
sine layers (ablation.md)."""


@dataclass(frozen=True)
class Recipe(Settings):
    """How a quality level becomes encoder settings; the tuples hold one value per level.
    The default is the tuned codec; the RD benchmark's variants change one field at a time to
    measure what it buys (benchmarks/results/kodak-mini/ablation.md)."""

    parameters_per_pixel: tuple[float, ...] = (0.05, 0.075, 0.11, 0.16, 0.23, 0.33, 0.48, 0.7)
    # the quantizer's trade (QuantConfig.rd_slope): lambda = rd_slope x MSE / bits should match
    # the slope of the codec's own curve, which steepens with the rate; the fine-tune wins
    # back part of a coarser step, so the best value sits a little above it. 5-8 measured
    # (+0.06 to +0.18 dB at equal rate against 1), 4 interpolated; higher values at 3, 5 and 6
    # ran along the curve, the optimum is broad (ablation.md, docs/notes.md)
    rd_slope: tuple[float, ...] = (1.0, 1.0, 1.0, 1.2, 1.4, 1.6, 1.7, 1.85)
    # largest share of the budget for hash grid + mask decoder, as measured at equal rate
    # (ablation.md, docs/notes.md): quality 1 keeps 0.4 (0.3: +0.02 dB, 8 of 24 images better),
    # 3 takes 0.3 (+0.06 dB against 0.4, 18 of 24; 0.2 lost), 5 0.25 (0.2 lost 0.12 dB); the
    # unmeasured 2, 4 and 6-8 follow their neighbours
    grid_share: tuple[float, ...] = (0.4,) + (0.3,) * 3 + (0.25,) * 4
    mask_share: float = 0.10         # largest share for the mask decoder alone
    # embedding rows per hidden neuron, as near as the budget allows
    embedding_ratio: float = 4 / 3
    # band limit = the long side's Nyquist frequency / this: small networks do better with
    # fewer high frequencies to choose from (docs/notes.md)
    band_divisor: tuple[float, ...] = (24.0,) * 3 + (16.0,) + (8.0,) * 4
    # share of the embedding rows in the low-frequency box: 65 at the default read +0.07 dB at
    # equal rate on seed 0 (19 of 24 images) but -0.08 on seed 1, and with Adam's 0.95 set
    # back too -0.06 dB on seed 2: tuned on seed 0's luck, so 50 everywhere (35 lost 0.08 dB;
    # noise at 6); at 1-3 the box ([-2, 2]^2) holds fewer rows than either share asks
    low_freq_percent: tuple[int, ...] = (50,) * 8
    low_box_divisor: float = 5       # the low-frequency box reaches band limit / this (at least 2)
    finest_cell_pixels: float = 6    # the finest hash-grid level's cell, in pixels
    # features per hash-grid level: up to the default, one feature and twice the table
    # entries fit better at the same budget (docs/notes.md); above it unmeasured
    grid_features: tuple[int, ...] = (1,) * 5 + (2,) * 3
    hidden_layers: int = 2
    # the fit is far from converged at 1000 steps and time buys rate (docs/notes.md): 16000
    # quarter-image steps at 1-4 (+0.10 and +0.16 dB at equal rate at 1 and 3 over 8000
    # half-image ones, for 1.4x and 1.2x the time; 2 and 4 follow unmeasured), 8000 eighths
    # at the default (its 60 s CPU budget: 34 s median; +0.23 dB at equal rate over 4000
    # quarter-image steps) and 8000 quarters from 6 up (ablation.md)
    fit_steps: tuple[int, ...] = (16000,) * 4 + (8000,) * 4
    finetune_steps: int = 150
    # the fine-tune's rate as a share of each tensor's step (QuantConfig.finetune_step_share):
    # 0.002 pays at every quality measured (+0.03-0.08 dB at equal rate at 1, 3, 5, 6, 7 and
    # 8, 20-24 of 24 images, SIREN +0.06-0.19) with the same bytes and time, against one rate
    # (1e-5) for every tensor (ablation.md)
    finetune_step_share: float = 0.002
    # training steps after each rounding stage, or each portion of one (QuantConfig.stage_steps),
    # and their rate as a share of the fit's: 200 at 0.1x pays at 1, 3, 5, 6, 7 and 8 (+0.03,
    # +0.04, +0.06, +0.06, +0.09 and +0.12 dB at equal rate, 19-24 of 24 images, same bytes;
    # SIREN +0.02-0.10); 2 and 4 follow unmeasured; 0 would round everything at once. Four
    # portions of 50 steps cost what one stage of 200 does (docs/notes.md)
    stage_steps: tuple[int, ...] = (50,) * 8
    stage_lr_share: float = 0.1
    # portions each rounding stage is rounded in, largest weights first (QuantConfig.stage_splits):
    # four of 50 steps pay +0.05, +0.05, +0.06, +0.10, +0.07 and +0.07 dB at equal rate over
    # one stage of 200 at 1, 3, 5, 6, 7 and 8 (23-24 of 24 images each, same bytes, same time;
    # SIREN +0.05, +0.05, about +0.07, +0.06 against another CPU's rows at 6, and +0.09 at 7);
    # four of 200 steps paid 0.02 dB more at 5 for 1.25x the encode time, eight of 25 0.02 dB
    # less. 2 and 4 follow unmeasured (docs/notes.md)
    stage_splits: tuple[int, ...] = (4,) * 8
    # whether the last hidden layer is rounded in a stage of its own too, not only by the
    # fine-tune (QuantConfig.stage_last_hidden): +0.02 dB at equal rate at 1, 3, 5 and 6 (19,
    # 23, 23 and 24 of 24 images, same bytes, one more stage's 200 steps on fewer float
    # weights), +0.03 dB at 7 (24 of 24); 2 and 4 follow their neighbours, 8 is unmeasured
    # (docs/notes.md)
    stage_last_hidden: tuple[bool, ...] = (True,) * 7 + (False,)
    # the fit's rate term (FitConfig.rate_weight): -3.4% BD-rate at 0.1, a flat top on the
    # 1000-step fits of its day; today's longer fits take more where the networks are larger:
    # 0.2 at 5, 6 and 7 (+0.27, +0.21 and +0.33 dB at equal rate over 0.1, 22-24 of 24
    # images); at 3 neither 0.15 (+0.06 dB on seed 0, -0.02 on seed 1, kodim08's fit
    # collapsing) nor 0.2 (+0.01 dB) is surely better. Above 0.2 textured images' fits
    # collapse (0.25 at 5: -0.10 dB, at 7 -0.18 on 12 images; 0.3 at 5: -0.48); 0.07 at 5
    # lost 0.14 dB, 0.15 at 1 is flat; 2, 4 and 8 are unmeasured (docs/notes.md)
    rate_weight: tuple[float, ...] = (0.1,) * 4 + (0.2,) * 3 + (0.1,)
    # the fit's learning rates: the backbone's 0.5-2x either way was within noise; the hash
    # grid and mask decoder's 6x pays from quality 5 (+0.08-0.17 dB at equal rate, 16-18 of
    # 24 images) and, behind the warm-up below, at 3 (+0.07 dB, 16 of 24; without it -0.12),
    # but not at 1 (-0.11 dB, 3 of 14); 9x pays over 6x at 6 and 7 (+0.09 and +0.05 dB, 18
    # and 17 of 24), is noise at 5 (+0.03 dB) and unmeasured at 8; 12x pays over 9x at 6
    # (+0.05 dB, 17 of 24; ablation.md)
    backbone_lr: float = FitConfig.backbone_lr
    mask_lr: tuple[float, ...] = (FitConfig.mask_lr,) * 2 + (0.06,) * 3 + (0.12, 0.09, 0.06)
    # Adam's second-moment decay (FitConfig.adam_beta2) in the fit, the rounding stages and the
    # fine-tune: 0.95 at the default read +0.06 dB at equal rate on seed 0 (17 of 24 images)
    # but -0.03 on seed 1, and with the 65% low box -0.06 dB on seed 2, so 0.99 everywhere;
    # 0.95 is noise at 1 and 6 and loses at 7 (-0.05 dB), 0.9 no better at 5 (ablation.md)
    adam_beta2: tuple[float, ...] = (FitConfig.adam_beta2,) * 8
    # Adam's first-moment decay (FitConfig.adam_beta1), where the same three use it: 0.9 is
    # a clear top at the default (0.8 -0.10 dB at equal rate, 5 of 24 images better; 0.95
    # -0.09 dB, 6 of 24); the rest unmeasured
    adam_beta1: tuple[float, ...] = (FitConfig.adam_beta1,) * 8
    # where the fit's cosine decay ends, as a share of each learning rate
    # (FitConfig.final_lr_fraction): 0.01 is a flat top at the default (0.002 -0.03 dB at
    # equal rate, 5 of 24 images better; 0.05 -0.01 dB, 11 of 24); the rest unmeasured
    final_lr_fraction: tuple[float, ...] = (FitConfig.final_lr_fraction,) * 8
    # share of the fit over which that rate ramps up from 0 (then the cosine): 5% pays at
    # every measured quality (+0.09 to +0.22 dB at equal rate, 14-20 of 24 images; ablation.md)
    mask_warmup: tuple[float, ...] = (0.05,) * 8
    # share of the image per fitting step (fixed batches taken in turn; 1: the whole image,
    # up to FitConfig's cap): a step costs its share, so half-image steps fit twice the steps
    # in the time of whole-image ones, and fit better at every preset; quarter-image steps
    # better still at 1-4 and from 6 up, eighth-image ones at 5 (ablation.md)
    batch_fraction: tuple[float, ...] = (0.25,) * 4 + (0.125,) + (0.25,) * 3
    # the first hidden layer's high-band columns coded with a quantization step of their own
    # (ModelConfig.split_first_hidden, format 3): +0.08 dB at equal rate at the default (rate
    # -1.8%, 21 of 24 images better), +0.07 dB at 6 (rate -1.4%, 18 of 24) and +0.08 dB at 7
    # (kodim01-08, 7 of 8, before format 4); at 3 a probe read nothing (-0.00 dB on
    # kodim01-04, 2 of 4) for two more header bytes; 1, 2, 4 and 8 unmeasured (docs/notes.md)
    split_first_hidden: tuple[int, ...] = (0,) * 4 + (1, 1, 1) + (0,)

    def __post_init__(self) -> None:
        for field in fields(self):  # every tuple is a per-quality table
            values = getattr(self, field.name)
            if isinstance(values, tuple):
                require(len(values) == len(QUALITY_LEVELS)
                        and all(math.isfinite(v) and v >= 0 for v in values),
                        f"{field.name} needs {len(QUALITY_LEVELS)} non-negative numbers, "
                        "one per quality")
        require(min(self.parameters_per_pixel) > 0 and min(self.band_divisor) > 0,
                "parameters_per_pixel and band_divisor must be positive")
        require(max(self.grid_share) < 1 and 0 < self.mask_share < 1,
                "grid_share and mask_share must be in (0, 1)")
        positive = (self.embedding_ratio, self.finest_cell_pixels, self.low_box_divisor,
                    self.backbone_lr, min(self.mask_lr), self.finetune_step_share,
                    self.stage_lr_share)
        require(all(math.isfinite(v) and v > 0 for v in positive),
                "embedding_ratio, finest_cell_pixels, low_box_divisor, the learning rates, "
                "finetune_step_share and stage_lr_share must be positive")
        require(all(isinstance(steps, int) for steps in self.fit_steps + self.stage_steps),
                "fit_steps and stage_steps must be whole numbers")
        require(all(isinstance(n, int) and n >= 1 for n in self.stage_splits),
                "stage_splits must be whole numbers of at least 1")
        require(all(isinstance(flag, bool) for flag in self.stage_last_hidden),
                "stage_last_hidden must be true or false")
        require(all(0 < share <= 1 for share in self.batch_fraction),
                "batch_fraction must be in (0, 1]")
        for level in range(len(QUALITY_LEVELS)):   # the fit's own fields: FitConfig checks them
            FitConfig(mask_warmup=self.mask_warmup[level], adam_beta1=self.adam_beta1[level],
                      adam_beta2=self.adam_beta2[level],
                      final_lr_fraction=self.final_lr_fraction[level])
        for name in ("grid_features", "low_freq_percent", "split_first_hidden"):   # ModelConfig's
            low, high = MODEL_LIMITS[name]
            require(all(isinstance(n, int) and not isinstance(n, bool) and low <= n <= high
                        for n in getattr(self, name)),
                    f"{name} must be whole numbers from {low} to {high}")
        require(self.hidden_layers >= 1 and self.finetune_steps >= 0,
                "hidden_layers must be at least 1, finetune_steps at least 0")


DEFAULT_RECIPE = Recipe()


def shape_for_budget(budget: int, width: int, height: int, channels: int,
                     arch: str = "sasnet", seed: int = 0,
                     recipe: Recipe = DEFAULT_RECIPE) -> ModelConfig:
    """A config with about `budget` trainable parameters for a width x height image.

    Frequencies and grid resolutions follow the pixel grid (band limit a fraction of the long
    side's Nyquist frequency, finest grid cell ~ 6 pixels: the recipe's band_divisor and
    finest_cell_pixels); widths follow the budget, with the embedding about
    `recipe.embedding_ratio` times the hidden width; the embedding width absorbs the
    remainder, so any two architectures can be matched to the same budget within a few
    parameters.
    """
    if budget < 100:
        raise CodecError("the parameter budget is too small for any network (need >= 100)")
    longest = max(width, height)
    level = _level_for_density(recipe, budget / (width * height))
    base = ModelConfig(arch=arch, channels=channels, seed=seed, hidden_layers=recipe.hidden_layers)
    band_limit = min(MODEL_LIMITS["band_limit"][1],
                     max(6, round(longest * base.period / 2 / recipe.band_divisor[level])))
    finest_cells = max(4.0, longest / recipe.finest_cell_pixels)
    levels = max(2, min(12, 1 + round(math.log(finest_cells / base.grid_base_resolution)
                                      / math.log(base.grid_per_level_scale))))
    low_box = max(2, int(band_limit // recipe.low_box_divisor))
    base = base.replace(band_limit=band_limit, low_freq_range=low_box, grid_levels=levels)
    if base.has_embedding:   # SIREN learns its first layer: a box share would only re-key it
        base = base.replace(low_freq_percent=recipe.low_freq_percent[level],
                            split_first_hidden=recipe.split_first_hidden[level])
    if base.has_masks:
        base = base.replace(grid_features=recipe.grid_features[level])
        base = _mask_shape_for_budget(base, budget, recipe.mask_share)
        grid_share = recipe.grid_share[level]
        for log2_size in range(16, 3, -1):
            candidate = base.replace(grid_log2_size=log2_size)
            if _count_of(candidate, ("grid.", "mask.")) <= grid_share * budget or log2_size == 4:
                base = candidate
                break
    best: ModelConfig | None = None
    ratio = recipe.embedding_ratio
    for hidden in range(base.n_groups, 4097, base.n_groups if base.has_masks else 1):
        try:
            config = _solve_embedding_width(base.replace(hidden_width=hidden), budget)
        except CodecError:
            continue  # this width asks for more frequencies than the band holds
        if config is None:
            break
        if best is None or abs(config.embedding_width / hidden - ratio) < abs(
                best.embedding_width / best.hidden_width - ratio):
            best = config
    if best is None:
        raise CodecError("no network shape fits this parameter budget")
    return best


def _level_for_density(recipe: Recipe, parameters_per_pixel: float) -> int:
    """The quality level whose parameter density is nearest (in ratio): an explicit budget
    (a bpp target) takes the per-level settings of the preset it is closest to."""
    return min(range(len(QUALITY_LEVELS)), key=lambda level: abs(math.log(
        recipe.parameters_per_pixel[level] / parameters_per_pixel)))


def _mask_shape_for_budget(config: ModelConfig, budget: int, share: float) -> ModelConfig:
    """The richest of MASK_SHAPES whose decoder takes at most `share` of the budget (the
    leanest when none does)."""
    for hidden, groups, bands in MASK_SHAPES:
        candidate = config.replace(mask_hidden=hidden, n_groups=groups, n_bands=bands)
        if _count_of(candidate, ("mask.",)) <= share * budget:
            break
    return candidate


def _count_of(config: ModelConfig, prefixes: tuple[str, ...]) -> int:
    """Parameters of the tensors whose names start with one of `prefixes`."""
    return sum(math.prod(shape) for name, shape in parameter_shapes(config)
               if name.startswith(prefixes))


def _solve_embedding_width(config: ModelConfig, budget: int) -> ModelConfig | None:
    """The embedding width (even, with the 2 unit rows and a high row per band) whose total
    parameter count is closest to budget; None when even the narrowest overshoots by more than
    5%. The low box takes its share of the rows first, so a large share needs a wider minimum."""
    low_width = 2 * max(2, config.n_bands + 2)
    while config.has_masks and high_frequency_count(config, low_width) < config.n_bands:
        low_width += 2
    per_row = parameter_count(config.replace(embedding_width=low_width + 2)) - parameter_count(
        config.replace(embedding_width=low_width))
    fixed = parameter_count(config.replace(embedding_width=low_width)) - per_row * low_width // 2
    width = max(low_width, 2 * round((budget - fixed) / per_row))
    config = config.replace(embedding_width=min(width, 4096))
    if parameter_count(config) > 1.05 * budget:
        return None
    return config


def encoder_config(width: int, height: int, channels: int, quality: int = DEFAULT_QUALITY,
                   arch: str = "sasnet", seed: int = 0, device: str = "auto",
                   recipe: Recipe = DEFAULT_RECIPE) -> EncoderConfig:
    """The full encoder settings for a quality level, sized to the image."""
    if quality not in QUALITY_LEVELS:
        raise CodecError(f"quality must be one of {QUALITY_LEVELS[0]}..{QUALITY_LEVELS[-1]}")
    level = QUALITY_LEVELS.index(quality)
    budget = max(MIN_BUDGET, round(recipe.parameters_per_pixel[level] * width * height))
    model = shape_for_budget(budget, width, height, channels, arch, seed, recipe)
    return _settings_at(level, model, width * height, seed, device, recipe)


def budget_config(width: int, height: int, channels: int, budget: int, arch: str = "sasnet",
                  seed: int = 0, device: str = "auto",
                  recipe: Recipe = DEFAULT_RECIPE) -> EncoderConfig:
    """The full encoder settings for an explicit parameter budget (a bpp target): the shape for
    the budget, and the fit and quantizer settings of the preset nearest its density, so that
    a rate target is encoded the way the quality it lands between would be."""
    model = shape_for_budget(budget, width, height, channels, arch, seed, recipe)
    level = _level_for_density(recipe, budget / (width * height))
    return _settings_at(level, model, width * height, seed, device, recipe)


def _settings_at(level: int, model: ModelConfig, pixels: int, seed: int, device: str,
                 recipe: Recipe) -> EncoderConfig:
    """The level's fit and quantizer settings around `model`. A whole-image share keeps
    FitConfig's batch cap, and a network without masks FitConfig's mask learning rate and
    warm-up (it has nothing to apply them to), so settings that fit alike stay equal (as do
    RD cache keys)."""
    batch = FitConfig.max_batch_pixels
    mask_lr = recipe.mask_lr[level] if model.has_masks else FitConfig.mask_lr
    mask_warmup = recipe.mask_warmup[level] if model.has_masks else FitConfig.mask_warmup
    if recipe.batch_fraction[level] < 1:
        batch = max(1, min(batch, math.ceil(recipe.batch_fraction[level] * pixels)))
    return EncoderConfig(
        model=model, fit=FitConfig(steps=recipe.fit_steps[level],
                                   rate_weight=recipe.rate_weight[level],
                                   backbone_lr=recipe.backbone_lr, mask_lr=mask_lr,
                                   mask_warmup=mask_warmup,
                                   adam_beta1=recipe.adam_beta1[level],
                                   adam_beta2=recipe.adam_beta2[level],
                                   final_lr_fraction=recipe.final_lr_fraction[level],
                                   max_batch_pixels=batch,
                                   seed=seed, device=device),
        quant=QuantConfig(rd_slope=recipe.rd_slope[level],
                          finetune_steps=recipe.finetune_steps,
                          finetune_step_share=recipe.finetune_step_share,
                          stage_steps=recipe.stage_steps[level],
                          stage_lr_share=recipe.stage_lr_share,
                          stage_splits=recipe.stage_splits[level],
                          stage_last_hidden=recipe.stage_last_hidden[level]))
