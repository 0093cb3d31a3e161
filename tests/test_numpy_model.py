"""The decoder's numpy network against the encoder's torch network, and a CPU decode that never
imports torch."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import sasnet_codec as sc
from sasnet_codec.config import ARCHITECTURES
from sasnet_codec.coords import domain_extent
from sasnet_codec.decoder import decode_model, decode_network
from sasnet_codec.encoder import pack_model
from sasnet_codec.layout import grid_levels
from sasnet_codec.model import SASNet
from sasnet_codec.render import render, render_float

from tests.helpers import tiny_config

W, H = 24, 16


def random_file(arch: str, seed: int = 0, split: int = 0) -> bytes:
    """A .sas file of a network whose every coded tensor holds random values of about its
    initial spread (mask biases included, which start at zero), quantized finely."""
    model = SASNet(tiny_config(arch=arch).model.replace(seed=seed, split_first_hidden=split))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, param in model.coded_parameters():
            spread = max(float(param.abs().mean()), 0.05)
            param.copy_(torch.randn(param.shape, generator=generator) * spread)
    steps = {name: 64 for name, _ in model.coded_parameters()}
    return pack_model(model, steps, sc.image_from_array(np.zeros((H, W, 3), np.uint8)))


@pytest.mark.parametrize("arch, split", [(arch, 0) for arch in ARCHITECTURES] + [("sasnet", 1)])
def test_numpy_network_matches_torch(arch, split):
    data = random_file(arch, split=split)
    header, network = decode_network(data)
    _, model = decode_model(data)
    extent = domain_extent(header.width, header.height)
    for width, height in ((W, H), (3 * W + 1, 2 * H - 3)):   # native, and another grid
        ours, theirs = (render_float(net, width, height, extent) for net in (network, model))
        assert np.abs(theirs).max() > 0.1                       # a network that does something
        assert np.abs(ours - theirs).max() < 1e-5
        ours, theirs = (render(net, width, height, extent) for net in (network, model))
        assert np.mean(ours != theirs) < 0.01


def test_the_test_network_has_dense_and_hashed_grid_levels():
    assert {level.dense for level in grid_levels(tiny_config().model)} == {True, False}


def test_a_cpu_decode_never_imports_torch(tmp_path):
    coded, decoded = tmp_path / "image.sas", tmp_path / "image.png"
    coded.write_bytes(random_file("sasnet"))
    script = ("import sys; from cli.main import cli; "
              f"cli.main(['decode', {str(coded)!r}, '-o', {str(decoded)!r}, '--quiet'], "
              "standalone_mode=False); print(sorted(m for m in sys.modules if 'torch' in m))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).parents[1])
    assert result.stdout.strip() == "[]"
    assert np.array_equal(np.asarray(Image.open(decoded)), sc.decode(coded.read_bytes()))
