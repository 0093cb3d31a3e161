import math

import pytest

from sasnet_codec.config import MODEL_LIMITS, FitConfig, ModelConfig
from sasnet_codec.layout import high_frequency_count, parameter_count, parameter_shapes
from sasnet_codec.errors import CodecError
from sasnet_codec.presets import (DEFAULT_RECIPE, MASK_SHAPES, QUALITY_LEVELS, Recipe,
                                  budget_config, encoder_config, shape_for_budget)


def count_of(config, prefixes):
    """Parameters of the tensors whose names start with one of `prefixes` (counted here from
    the layout, independently of presets.py)."""
    return sum(math.prod(shape) for name, shape in parameter_shapes(config)
               if name.startswith(prefixes))


@pytest.mark.parametrize("size", [(1, 1), (8, 8), (40, 30), (192, 128), (768, 512),
                                  (3000, 2000), (8000, 6000), (30, 4000)])
@pytest.mark.parametrize("arch", ["sasnet", "femb", "siren"])
def test_every_preset_builds_a_valid_network(size, arch):
    for quality in (QUALITY_LEVELS[0], QUALITY_LEVELS[-1]):
        config = encoder_config(*size, 3, quality, arch).model
        assert config.band_limit <= MODEL_LIMITS["band_limit"][1]
        assert parameter_count(config) > 0


def test_budgets_grow_with_quality_and_pixels():
    counts = [parameter_count(encoder_config(192, 128, 3, q).model) for q in QUALITY_LEVELS]
    assert counts == sorted(counts) and counts[-1] > 5 * counts[0]
    small = parameter_count(encoder_config(192, 128, 3, 5).model)
    large = parameter_count(encoder_config(768, 512, 3, 5).model)
    assert 10 < large / small < 22
    assert parameter_count(encoder_config(192, 128, 3, 5).model) == pytest.approx(
        DEFAULT_RECIPE.parameters_per_pixel[4] * 192 * 128, rel=0.05)


def test_architectures_match_the_same_budget_within_5_percent():
    for budget in (1500, 8000, 40000):
        counts = [parameter_count(shape_for_budget(budget, 192, 128, 3, arch))
                  for arch in ("sasnet", "femb", "siren")]
        assert max(counts) <= 1.05 * min(counts)


def test_recipe_fields_reach_the_encoder_settings():
    recipe = Recipe(rd_slope=(0.5,) * 8, hidden_layers=3, fit_steps=(77,) * 8, finetune_steps=9,
                    finetune_step_share=0.003,
                    rate_weight=(0.0, 0.3) + (0.0,) * 6, backbone_lr=1e-3,
                    mask_lr=(1e-2, 3e-2) + (1e-2,) * 6, mask_warmup=(0.0, 0.2) + (0.0,) * 6,
                    adam_beta2=(0.99, 0.9) + (0.99,) * 6, adam_beta1=(0.9, 0.8) + (0.9,) * 6,
                    final_lr_fraction=(0.01, 0.05) + (0.01,) * 6)
    config = encoder_config(192, 128, 3, 2, recipe=recipe)
    assert (config.fit.backbone_lr, config.fit.mask_lr) == (1e-3, 3e-2)
    assert config.fit.adam_betas == (0.8, 0.9)
    assert config.fit.final_lr_fraction == 0.05
    assert config.fit.mask_warmup == 0.2
    assert config.quant.rd_slope == 0.5 and config.quant.finetune_steps == 9
    assert config.quant.finetune_step_share == 0.003
    assert config.fit.steps == 77 and config.model.hidden_layers == 3
    assert config.fit.rate_weight == 0.3
    level_one = encoder_config(192, 128, 3, 1, recipe=recipe).fit
    assert (level_one.rate_weight, level_one.mask_lr, level_one.mask_warmup) == (0.0, 1e-2, 0.0)
    siren = encoder_config(192, 128, 3, 2, arch="siren", recipe=recipe).fit
    assert siren.mask_lr == FitConfig.mask_lr != 3e-2   # nothing to apply it to
    assert siren.mask_warmup == FitConfig.mask_warmup != 0.2
    assert parameter_count(config.model) == pytest.approx(
        recipe.parameters_per_pixel[1] * 192 * 128, rel=0.05)
    default = encoder_config(192, 128, 3, 8).model
    wide = encoder_config(192, 128, 3, 8, recipe=Recipe(embedding_ratio=3.0)).model
    assert wide.embedding_width / wide.hidden_width > default.embedding_width / default.hidden_width
    shaped = encoder_config(192, 128, 3, 8, recipe=Recipe(
        band_divisor=(16.0,) * 8, finest_cell_pixels=3, grid_features=(4,) * 8,
        low_freq_percent=(70,) * 8)).model
    assert shaped.band_limit == pytest.approx(default.band_limit / 2, abs=1)
    assert shaped.grid_levels > default.grid_levels and shaped.grid_features == 4
    assert shaped.low_freq_percent == 70 != default.low_freq_percent
    mixed = Recipe(grid_features=(1,) * 5 + (3,) * 3)
    assert [encoder_config(192, 128, 3, q, recipe=mixed).model.grid_features
            for q in (2, 8)] == [1, 3]
    split = Recipe(split_first_hidden=(0,) * 4 + (1,) * 4)
    assert [encoder_config(192, 128, 3, q, recipe=split).model.split_first_hidden
            for q in (3, 5)] == [0, 1]
    siren = encoder_config(192, 128, 3, 8, arch="siren", recipe=Recipe(
        grid_features=(4,) * 8, low_freq_percent=(70,) * 8, split_first_hidden=(1,) * 8))
    assert siren.model.grid_features == ModelConfig().grid_features   # no grid, nothing to set
    assert siren.model.low_freq_percent == ModelConfig().low_freq_percent   # no frozen embedding
    assert siren.model.split_first_hidden == 0   # no embedding bands to split at
    wide_box = encoder_config(192, 128, 3, 8, recipe=Recipe(low_box_divisor=2)).model
    assert wide_box.low_freq_range > default.low_freq_range
    # most rows in the low box: the narrowest embedding the search starts from must still
    # leave a high row per band (75% at quality 5 used to find no shape at all)
    boxed = encoder_config(192, 128, 3, 5, recipe=Recipe(low_freq_percent=(75,) * 8)).model
    assert boxed.low_freq_percent == 75
    assert high_frequency_count(boxed) >= boxed.n_bands
    assert parameter_count(boxed) == pytest.approx(
        DEFAULT_RECIPE.parameters_per_pixel[4] * 192 * 128, rel=0.05)


def test_small_budgets_get_the_lean_mask_decoder_within_its_share():
    def mask_shape(config):
        return config.mask_hidden, config.n_groups, config.n_bands

    rich, lean = MASK_SHAPES[0], MASK_SHAPES[-1]
    low = encoder_config(192, 128, 3, QUALITY_LEVELS[0]).model
    high = encoder_config(192, 128, 3, QUALITY_LEVELS[-1]).model
    assert mask_shape(low) == lean and mask_shape(high) == rich
    assert count_of(high, ("mask.",)) <= DEFAULT_RECIPE.mask_share * parameter_count(high)
    # A share no decoder fits in gives the leanest; a generous one the richest.
    tight, generous = Recipe(mask_share=0.001), Recipe(mask_share=0.9)
    assert mask_shape(shape_for_budget(20000, 192, 128, 3, recipe=tight)) == lean
    assert mask_shape(shape_for_budget(1500, 192, 128, 3, recipe=generous)) == rich


def test_grid_share_applies_per_quality_and_to_the_nearest_preset_of_a_budget():
    big_first = Recipe(grid_share=(0.6,) + (0.1,) * 7)
    low, other = (encoder_config(192, 128, 3, q, recipe=big_first).model for q in (1, 2))
    assert count_of(low, ("grid.", "mask.")) > 0.3 * parameter_count(low)
    assert low.grid_log2_size > other.grid_log2_size    # the smaller network, the larger table
    # An explicit budget (a bpp target) takes the share of the preset nearest its density.
    near_first = round(1.1 * big_first.parameters_per_pixel[0] * 192 * 128)
    small_share = Recipe(grid_share=(0.1,) * 8)
    assert shape_for_budget(near_first, 192, 128, 3, recipe=big_first).grid_log2_size \
        > shape_for_budget(near_first, 192, 128, 3, recipe=small_share).grid_log2_size


def test_a_budget_is_fitted_with_the_settings_of_the_preset_nearest_its_density():
    recipe = Recipe(fit_steps=tuple(range(101, 109)), rate_weight=tuple(i / 10 for i in range(8)),
                    rd_slope=tuple(range(1, 9)), batch_fraction=tuple(i / 8 for i in range(1, 9)),
                    stage_steps=tuple(range(11, 19)))
    for level, density in enumerate(recipe.parameters_per_pixel):
        budget = round(1.05 * density * 192 * 128)
        config = budget_config(192, 128, 3, budget, seed=3, device="cpu", recipe=recipe)
        assert (config.fit.steps, config.fit.rate_weight, config.quant.rd_slope,
                config.quant.stage_steps) == (recipe.fit_steps[level], recipe.rate_weight[level],
                                              recipe.rd_slope[level], recipe.stage_steps[level])
        share = recipe.batch_fraction[level]   # of the 24576 pixels; 1 keeps FitConfig's cap
        assert config.fit.max_batch_pixels == (FitConfig.max_batch_pixels if share == 1
                                               else math.ceil(share * 192 * 128))
        assert config.model == shape_for_budget(budget, 192, 128, 3, seed=3, recipe=recipe)
        assert (config.fit.seed, config.fit.device) == (3, "cpu")


def test_recipe_refuses_tables_of_the_wrong_length_or_sign():
    with pytest.raises(CodecError, match="one per quality"):
        Recipe(rd_slope=(1.0,) * 3)
    with pytest.raises(CodecError, match="one per quality"):
        Recipe(rate_weight=(-0.1,) * 8)
    with pytest.raises(CodecError, match="must be positive"):
        Recipe(parameters_per_pixel=(0.0,) * 8)
    for rates in ({"backbone_lr": 0.0}, {"mask_lr": (1e-2,) * 7 + (0.0,)},
                  {"finetune_step_share": 0.0}, {"stage_lr_share": 0.0}):
        with pytest.raises(CodecError, match="learning rates, finetune_step_share and "
                                             "stage_lr_share must be positive"):
            Recipe(**rates)
    for features in (0, 9):
        with pytest.raises(CodecError, match="grid_features must be whole numbers from 1 to 8"):
            Recipe(grid_features=(features,) * 8)
    for bad in ((101,) * 8, (50.5,) * 8):
        with pytest.raises(CodecError, match="low_freq_percent must be whole numbers from 0"):
            Recipe(low_freq_percent=bad)
    for bad in ((2,) * 8, (True,) * 8):
        with pytest.raises(CodecError, match="split_first_hidden must be whole numbers from 0"):
            Recipe(split_first_hidden=bad)
    for bad in ((0.0,) * 8, (1.5,) * 8):
        with pytest.raises(CodecError, match=r"batch_fraction must be in \(0, 1\]"):
            Recipe(batch_fraction=bad)
    with pytest.raises(CodecError, match=r"mask_warmup must be in \[0, 1\)"):
        Recipe(mask_warmup=(1.0,) * 8)
    with pytest.raises(CodecError, match=r"adam_beta2 must be in \(0, 1\)"):
        Recipe(adam_beta2=(1.0,) * 8)
    with pytest.raises(CodecError, match=r"adam_beta1 must be in \[0, 1\)"):
        Recipe(adam_beta1=(1.0,) * 8)
    with pytest.raises(CodecError, match=r"final_lr_fraction must be in \(0, 1\]"):
        Recipe(final_lr_fraction=(0.0,) * 8)
