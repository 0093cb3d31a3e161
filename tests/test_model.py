import pytest
import torch

from sasnet_codec.config import ModelConfig
from sasnet_codec.errors import CodecError
from sasnet_codec.layout import parameter_count, parameter_shapes
from sasnet_codec.model import SASNet

SMALL = ModelConfig(embedding_width=24, hidden_width=16, n_groups=4, band_limit=12,
                    low_freq_range=3, grid_levels=3, grid_log2_size=6, mask_hidden=8)


@pytest.mark.parametrize("arch, split", [("sasnet", 0), ("sasnet", 1), ("femb", 1), ("siren", 0)])
def test_shapes_are_known_without_building(arch, split):
    config = SMALL.replace(arch=arch, split_first_hidden=split)
    model = SASNet(config)
    assert [(n, tuple(p.shape)) for n, p in model.coded_parameters()] == parameter_shapes(config)
    assert parameter_count(config) == sum(p.numel() for p in model.parameters())


def test_gradients_reach_grid_decoder_and_backbone():
    model = SASNet(SMALL)
    coords = torch.rand(256, 2) * 2 - 1
    model(coords).square().mean().backward()
    for name, param in model.coded_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_masks_start_near_one_half_and_gate_their_groups():
    model = SASNet(SMALL)
    coords = torch.rand(128, 2) * 2 - 1
    masks = model.masks(coords)
    assert masks.shape == (128, SMALL.n_masks)
    assert torch.all((masks - 0.5).abs() < 0.05)
    # Closing every mask leaves only the low band of the embedding: the output then no longer
    # depends on any high-frequency phase.
    with torch.no_grad():
        model.masks.out_bias.fill_(-100.0)
        model.masks.out_weight.zero_()
    before = model(coords)
    with torch.no_grad():
        high = model.first.band > 0
        model.first.phase[high] += 1.0
    assert torch.allclose(model(coords), before, atol=1e-6)


def test_same_seed_same_network():
    a, b = SASNet(SMALL), SASNet(SMALL)
    for (_, p), (_, q) in zip(a.coded_parameters(), b.coded_parameters()):
        assert torch.equal(p, q)


def test_config_round_trips_through_a_plain_dict():
    config = SMALL.replace(seed=12345, arch="femb")
    values = config.to_dict()
    assert all(isinstance(v, (int, str)) for v in values.values())
    assert ModelConfig.from_dict(values) == config


def test_a_split_first_layer_is_the_whole_layer_cut_at_the_low_band():
    """The two parts start as the whole matrix's columns, cut where the embedding's low band
    (band 0, its first rows) ends, so the network computes what the unsplit one does; the
    rate term and the rounding stages see the layer as before."""
    whole, split = SASNet(SMALL), SASNet(SMALL.replace(split_first_hidden=1))
    low, high = split.hidden[0].weight_low, split.hidden[0].weight_high
    assert low.shape[1] == int((split.first.band == 0).sum()) and high.shape[1] > 0
    assert torch.equal(torch.cat([low, high], dim=1), whole.hidden[0].weight)
    coords = torch.rand(256, 2) * 2 - 1
    assert torch.equal(split(coords), whole(coords))
    for a, b in zip(split.weight_matrices(), whole.weight_matrices()):
        assert torch.equal(a, b)
    masks, first, last = split.quantization_stages(last_hidden=True)
    assert set(first) == {"embedding.phase", "hidden0.weight_low", "hidden0.weight_high",
                          "hidden0.bias"}
    assert set(last) == {"hidden1.weight", "hidden1.bias"}


@pytest.mark.parametrize("change", [{"hidden_width": 15}, {"arch": "mlp"}, {"omega_0": 0},
                                    {"low_freq_range": 40, "band_limit": 30},
                                    {"arch": "siren", "split_first_hidden": 1},
                                    {"split_first_hidden": 2}])
def test_invalid_configs_are_codec_errors(change):
    with pytest.raises(CodecError):
        SMALL.replace(**change)
