import numpy as np
import pytest
import torch

from sasnet_codec.config import FitConfig
from sasnet_codec.errors import CodecError
from sasnet_codec.fit import Targets, fit, learning_rate_factor, rate_estimate
from sasnet_codec.image_io import image_from_array
from sasnet_codec.model import SASNet
from sasnet_codec.nn import masks

from tests.helpers import DEVICES, synthetic_image, tiny_config


@pytest.mark.parametrize("device", DEVICES)
def test_fitting_a_small_image_passes_a_psnr_bar(device):
    image = image_from_array(synthetic_image(32, 24))
    result = fit(image, tiny_config().model, FitConfig(steps=400, device=device), progress=False)
    assert result.psnr > 30.0
    assert result.steps == 400


@pytest.mark.parametrize("device", DEVICES)
def test_fitting_is_reproducible(device):
    image = image_from_array(synthetic_image(16, 16))
    config = FitConfig(steps=30, device=device, seed=3)
    a = fit(image, tiny_config().model, config, progress=False).model
    b = fit(image, tiny_config().model, config, progress=False).model
    for (_, p), (_, q) in zip(a.coded_parameters(), b.coded_parameters()):
        assert torch.equal(p, q)


def test_target_psnr_stops_early():
    image = image_from_array(synthetic_image(16, 16))
    config = FitConfig(steps=2000, device="cpu", target_psnr=22.0, log_every=10)
    result = fit(image, tiny_config().model, config, progress=False)
    assert result.psnr >= 22.0 and result.steps < 2000


@pytest.mark.parametrize("device", DEVICES)
def test_mini_batches_for_large_images(device):
    image = image_from_array(synthetic_image(32, 32))
    config = FitConfig(steps=150, device=device, max_batch_pixels=256, log_every=25)
    result = fit(image, tiny_config().model, config, progress=False)
    assert result.psnr > 20.0


def test_mini_batches_are_a_fixed_seeded_partition_of_the_image():
    targets = Targets.from_image(image_from_array(synthetic_image(30, 20)), torch.device("cpu"))
    batches = targets.batches(256, seed=1)
    assert [len(b.coords) for b in batches] == [200, 200, 200]
    rows = sorted(map(tuple, torch.cat([b.coords for b in batches]).tolist()))
    assert rows == sorted(map(tuple, targets.coords.tolist()))
    assert all(torch.equal(a.values, b.values)
               for a, b in zip(batches, targets.batches(256, seed=1)))
    assert targets.batches(600, seed=1)[0] is targets


def test_the_mask_network_keeps_one_grid_lookup_per_fixed_batch_within_its_bound(monkeypatch):
    model = SASNet(tiny_config().model)
    calls = []
    real_lookup = model.masks.grid.lookup
    monkeypatch.setattr(model.masks.grid, "lookup", lambda unit: calls.append(len(unit))
                        or real_lookup(unit))
    targets = Targets.from_image(image_from_array(synthetic_image(30, 20)), torch.device("cpu"))
    batches = targets.batches(256, seed=0)
    for _ in range(3):
        for batch in batches:
            model(batch.coords)
    assert calls == [200, 200, 200]            # each batch looked up once
    monkeypatch.setattr(masks, "LOOKUP_CACHE_PIXELS", 450)
    calls.clear()
    for batch in batches + batches:
        model(batch.coords)
    # Two fit under the bound: the least recently used goes, so a cycle of three misses at
    # every call after the first (which the full cache still held).
    assert calls == [200] * 5


def test_grayscale_and_alpha_get_their_own_channel_count():
    for channels in (1, 2, 4):
        image = image_from_array(synthetic_image(12, 8, channels))
        result = fit(image, tiny_config().model, FitConfig(steps=5, device="cpu"), progress=False)
        assert result.model.config.channels == channels
        assert result.model(torch.zeros(3, 2)).shape == (3, channels)
        assert np.isfinite(result.psnr)


def test_the_rate_term_shrinks_the_sine_weights_for_little_distortion():
    image = image_from_array(synthetic_image(24, 16))
    plain = fit(image, tiny_config().model, FitConfig(steps=200, device="cpu"), progress=False)
    rated = fit(image, tiny_config().model, FitConfig(steps=200, device="cpu", rate_weight=0.2),
                progress=False)
    bits = lambda result: rate_estimate(result.model.weight_matrices()).item()
    matrices = sum(p.numel() for p in plain.model.weight_matrices())
    assert bits(rated) < bits(plain) - 0.3 * matrices     # at least 0.3 bit per weight less
    assert rated.psnr > plain.psnr - 1.0
    # The grid and mask decoder are not rated: the same tensors, just as large.
    grid = lambda result: result.model.masks.grid.params.abs().mean().item()
    assert grid(rated) > 0.5 * grid(plain)


def test_a_negative_rate_weight_is_refused():
    with pytest.raises(CodecError, match="rate_weight"):
        FitConfig(rate_weight=-1.0)


def test_the_learning_rate_ramps_up_over_the_warmup_then_follows_the_cosine():
    factors = [learning_rate_factor(step, 100, 0.1, 0.01) for step in range(100)]
    assert factors[:10] == pytest.approx([(step + 1) / 10 for step in range(10)])
    plain = [learning_rate_factor(step, 100, 0.0, 0.01) for step in range(100)]
    assert factors[10:] == plain[10:] and plain[0] == 1.0
    assert plain[50] == pytest.approx(0.505) and plain[-1] == pytest.approx(0.01, abs=1e-3)
    assert max(learning_rate_factor(step, 3, 0.9, 0.01) for step in range(3)) == 1.0


def test_mask_warmup_holds_back_the_grid_and_mask_decoder_only():
    image = image_from_array(synthetic_image(24, 16))

    def first_step(warmup: float) -> tuple[float, float]:
        """How far one step (a target every fit reaches ends it) moves the grid table and the
        first hidden layer."""
        start = SASNet(tiny_config().model)
        config = FitConfig(steps=100, device="cpu", mask_warmup=warmup, target_psnr=-100.0,
                           log_every=1)
        result = fit(image, tiny_config().model, config, progress=False)
        assert result.steps == 1
        grid = (result.model.masks.grid.params - start.masks.grid.params).abs().mean().item()
        hidden = (result.model.hidden[0].weight - start.hidden[0].weight).abs().mean().item()
        return grid, hidden

    (grid_plain, hidden_plain), (grid_warm, hidden_warm) = first_step(0.0), first_step(0.5)
    assert grid_plain > 0 and grid_warm < 0.1 * grid_plain   # 1/50 of the rate
    assert hidden_warm == pytest.approx(hidden_plain, rel=0.2)
    with pytest.raises(CodecError, match="mask_warmup"):
        FitConfig(mask_warmup=1.0)


def test_adam_decays_reach_the_optimiser():
    """Adam's first step is g / |g| whatever the decays; from the second on they decide where
    each weight moves, so fits with two values of either part, and one setting repeats
    exactly."""
    image = image_from_array(synthetic_image(24, 16))

    def table(beta1: float, beta2: float) -> torch.Tensor:
        config = FitConfig(steps=5, device="cpu", adam_beta1=beta1, adam_beta2=beta2)
        return fit(image, tiny_config().model, config, progress=False).model.masks.grid.params

    assert torch.equal(table(0.9, 0.9), table(0.9, 0.9))
    assert not torch.equal(table(0.9, 0.9), table(0.9, 0.99))
    assert not torch.equal(table(0.9, 0.9), table(0.8, 0.9))
    with pytest.raises(CodecError, match="adam_beta2"):
        FitConfig(adam_beta2=1.0)
    with pytest.raises(CodecError, match="adam_beta1"):
        FitConfig(adam_beta1=1.0)
