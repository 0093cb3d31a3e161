"""Shared fixtures: a small synthetic image and one tiny encoded file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.helpers import synthetic_image, tiny_config

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def small_image() -> np.ndarray:
    return synthetic_image()


@pytest.fixture(scope="session")
def encoded(small_image):
    """One encode shared by the decoder, bitstream and hostile-input tests."""
    from sasnet_codec import encode

    return encode(small_image, tiny_config(steps=200), progress=False)
