import copy

import numpy as np
import pytest

from sasnet_codec.config import FitConfig
from sasnet_codec.coords import domain_extent, pixel_centres
from sasnet_codec.fit import fit
from sasnet_codec.image_io import image_from_array
from sasnet_codec.metrics import psnr_from_mse
from sasnet_codec.render import render, render_float

from tests.helpers import DEVICES, synthetic_image, tiny_config

W, H = 24, 16


@pytest.fixture(scope="module")
def model():
    image = image_from_array(synthetic_image(W, H))
    return fit(image, tiny_config().model, FitConfig(steps=200, device="cpu"), progress=False).model


def test_pixel_centres_keep_the_aspect_ratio():
    extent = domain_extent(W, H)
    coords = pixel_centres(W, H, extent)
    assert coords.shape == (W * H, 2)
    assert coords[:, 0].max() == pytest.approx(1 - 1 / W)
    assert coords[:, 1].max() == pytest.approx(extent[1] * (1 - 1 / H))
    assert coords[0].tolist() == pytest.approx([-(1 - 1 / W), -extent[1] * (1 - 1 / H)])


def test_2x_render_has_the_right_shape_and_matches_native_on_average(model):
    extent = domain_extent(W, H)
    native = render_float(model, W, H, extent)
    double = render_float(model, 2 * W, 2 * H, extent)
    assert double.shape == (2 * H, 2 * W, 3)
    # Pixel centres of a 2x grid never coincide with native ones (they sit a quarter pixel
    # off), so compare each native pixel with the mean of its 2x2 block.
    pooled = double.reshape(H, 2, W, 2, 3).mean(axis=(1, 3))
    assert psnr_from_mse(float(np.mean((pooled - native) ** 2))) > 30


def test_3x_render_agrees_exactly_where_samples_coincide(model):
    # With pixel centres, every third sample of a 3x grid (index 3i+1) is a native centre.
    extent = domain_extent(W, H)
    native = render_float(model, W, H, extent)
    triple = render_float(model, 3 * W, 3 * H, extent)
    assert triple.shape == (3 * H, 3 * W, 3)
    np.testing.assert_allclose(triple[1::3, 1::3], native, atol=2e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_tiling_does_not_change_the_result(model, device):
    model = copy.deepcopy(model).to(device)
    extent = domain_extent(W, H)
    whole = render(model, W, H, extent, tile_pixels=1 << 20)
    tiled = render(model, W, H, extent, tile_pixels=W * 3)   # 3 rows per tile, uneven last
    single_pixels = render(model, W, H, extent, tile_pixels=7)   # tiles cross row ends
    assert np.array_equal(whole, tiled) and np.array_equal(whole, single_pixels)


def test_render_is_integer_at_the_requested_depth(model):
    extent = domain_extent(W, H)
    assert render(model, W, H, extent, 8).dtype == np.uint8
    assert render(model, W, H, extent, 16).dtype == np.uint16
