import numpy as np
import pytest
import torch

from sasnet_codec.config import FitConfig, QuantConfig
from sasnet_codec.fit import Targets, batches_mse, fit
from sasnet_codec.image_io import image_from_array
from sasnet_codec.quantize import (StepSearch, finetune_quantized, largest_first, load_quantized,
                                   on_step, quantize_model, quantize_tensor, round_in_stages)
from sasnet_codec.tables import exp2_sixteenths, laplace_scale, quantization_step

from tests.helpers import synthetic_image, tiny_config


def test_table_values_are_exact_dyadic_floats():
    for index in range(256):
        step = quantization_step(index)
        assert np.float32(step) == step                      # exact in float32
        assert step == pytest.approx(2 ** (-index / 8), rel=2e-5)
        assert laplace_scale(index) == pytest.approx(2 ** ((index - 48) / 16), rel=2e-5)
    assert exp2_sixteenths(0) == 1.0 and exp2_sixteenths(-16) == 0.5
    with pytest.raises(ValueError):
        quantization_step(256)


def test_dequantized_values_are_bit_identical_to_integer_times_step():
    tensor = torch.randn(1000) * 0.1
    quantized = quantize_tensor("t", tensor, 60)
    values = quantized.values()
    expected = quantized.symbols.astype(np.float32) * np.float32(quantization_step(60))
    assert np.array_equal(values, expected)
    assert np.max(np.abs(values - tensor.numpy())) <= quantization_step(60) / 2 + 1e-7


def quantized_mse(network, choice: dict[str, int], targets: Targets) -> float:
    """MSE of the network the decoder would rebuild from `network` rounded at `choice`."""
    probe = type(network)(network.config)
    load_quantized(probe, quantize_model(network, choice))
    return batches_mse(probe, targets.tiles(1 << 16))


@pytest.fixture(scope="module")
def fitted():
    image = image_from_array(synthetic_image(24, 16))
    model = fit(image, tiny_config().model, FitConfig(steps=150, device="cpu"),
                progress=False).model
    return model, Targets.from_image(image, torch.device("cpu"))


def test_step_search_trades_rate_for_distortion(fitted):
    model, targets = fitted
    search = StepSearch(model, targets)
    cheap, fine = search.choose(1e-3), search.choose(1e-9)
    cheap_mse, cheap_bits = search.totals(cheap)
    fine_mse, fine_bits = search.totals(fine)
    assert cheap_bits < fine_bits and cheap_mse > fine_mse
    target = 0.5 * (cheap_bits + fine_bits)
    assert search.totals(search.at_bits(target))[1] <= target
    # The search must not wreck the network: the self-consistent choice stays close to float.
    slope_mse, _ = search.totals(search.at_slope(1.0))
    assert 10 * np.log10(search.base_mse / slope_mse) > -1.5


def test_predicted_distortion_matches_the_quantized_network(fitted):
    model, targets = fitted
    search = StepSearch(model, targets)
    choice = {name: c.step_index for name, c in search.at_slope(1.0).items()}
    copy = type(model)(model.config)
    copy.load_state_dict(model.state_dict())
    load_quantized(copy, quantize_model(model, choice))
    measured = batches_mse(copy, targets.tiles(1 << 16))
    predicted = search.totals(search.at_slope(1.0))[0]
    assert measured == pytest.approx(predicted, rel=0.5)


def test_quantization_aware_finetune_recovers_rounding_error(fitted):
    model, targets = fitted
    copy = type(model)(model.config)
    copy.load_state_dict(model.state_dict())
    # Coarse steps (a steep RD slope) leave error for the fine-tune to win back.
    choice = {n: c.step_index for n, c in StepSearch(copy, targets).at_slope(4.0).items()}

    before = quantized_mse(copy, choice, targets)
    finetune_quantized(copy, choice, targets,
                       QuantConfig(finetune_steps=40, finetune_step_share=0.01),
                       FitConfig(max_batch_pixels=1 << 16),
                       progress=False)
    assert quantized_mse(copy, choice, targets) < 0.95 * before


@pytest.mark.parametrize("splits, last_hidden", [(1, False), (2, False), (2, True)])
def test_staged_rounding_lets_the_float_rest_absorb_each_stage_error(fitted, splits,
                                                                     last_hidden):
    model, targets = fitted
    choice = {n: c.step_index for n, c in StepSearch(model, targets).at_slope(4.0).items()}

    staged = type(model)(model.config)
    staged.load_state_dict(model.state_dict())
    quant = QuantConfig(stage_steps=30, stage_splits=splits, stage_last_hidden=last_hidden)
    round_in_stages(staged, choice, targets, quant, FitConfig(), False)
    params = dict(staged.coded_parameters())
    stages = staged.quantization_stages(last_hidden)
    staged_names = sum(stages, [])
    assert stages[0][0] == "grid.table" and "output.weight" not in staged_names
    assert ("hidden1.weight" in staged_names) == last_hidden
    for name in staged_names:   # rounded tensors stay exactly on their steps
        step = quantization_step(choice[name])
        assert torch.equal(params[name], torch.round(params[name] / step) * step)
    assert all(p.requires_grad for p in params.values())
    rounded_at_once = quantized_mse(model, choice, targets)
    assert quantized_mse(staged, choice, targets) < 0.95 * rounded_at_once


def test_a_split_stage_rounds_its_largest_weights_first_and_holds_them_while_the_rest_trains(
        fitted):
    model, targets = fitted
    choice = {n: c.step_index for n, c in StepSearch(model, targets).at_slope(4.0).items()}
    staged = type(model)(model.config)
    staged.load_state_dict(model.state_dict())
    round_in_stages(staged, choice, targets, QuantConfig(stage_steps=30, stage_splits=2),
                    FitConfig(), False)
    original, after = dict(model.coded_parameters()), dict(staged.coded_parameters())
    moved = 0
    for name in staged.quantization_stages()[0]:
        large = largest_first(original[name], torch.zeros_like(original[name], dtype=torch.bool),
                              original[name].numel() // 2)
        rounded_first = on_step(original[name].detach(), choice[name])
        assert torch.equal(after[name][large], rounded_first[large])   # never trained again
        moved += int((after[name][~large] != rounded_first[~large]).sum())
    assert moved > 0   # the small half trained before its own rounding


def test_largest_first_grows_the_fixed_set_by_magnitude():
    weights = torch.tensor([[0.5, -3.0], [2.0, -0.1]])
    half = largest_first(weights, torch.zeros_like(weights, dtype=torch.bool), 2)
    assert half.tolist() == [[False, True], [True, False]]
    kept = torch.tensor([[False, False], [False, True]])   # a fixed entry stays fixed
    assert largest_first(weights, kept, 2).tolist() == [[False, True], [False, True]]


def test_finetune_rate_per_step_moves_each_tensor_in_units_of_its_own_step(fitted):
    model, targets = fitted
    choice = {n: c.step_index for n, c in StepSearch(model, targets).at_slope(4.0).items()}
    steps, share = 40, 0.01
    before = {name: p.detach().clone() for name, p in model.coded_parameters()}
    moved = type(model)(model.config)
    moved.load_state_dict(model.state_dict())
    finetune_quantized(moved, choice, targets,
                       QuantConfig(finetune_steps=steps, finetune_step_share=share),
                       FitConfig(max_batch_pixels=1 << 16),
                       progress=False)
    # Adam moves a weight by at most about its rate per step
    drift = {name: float((p.detach() - before[name]).abs().max()) / quantization_step(choice[name])
             for name, p in moved.coded_parameters()}
    assert max(drift.values()) <= 1.05 * steps * share
    assert max(drift[name] * quantization_step(choice[name]) for name in drift) > steps * 1e-5


def test_symbols_are_clamped_to_the_coder_range():
    tensor = torch.tensor([1.0, -1.0, 0.0])
    quantized = quantize_tensor("t", tensor, 200)     # step 2^-25: 1.0 would be 2^25
    assert quantized.symbols.tolist() == [32767, -32767, 0]
