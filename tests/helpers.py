"""Small synthetic images and a tiny, fast encoder configuration for the tests."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import torch

from sasnet_codec.config import EncoderConfig, FitConfig, ModelConfig, QuantConfig


# Device-dependent tests run on the CPU everywhere and on CUDA too where a GPU is present.
DEVICES = ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)


def synthetic_image(width: int = 24, height: int = 16, channels: int = 3,
                    dtype=np.uint8, seed: int = 0) -> np.ndarray:
    """Smooth gradients plus one sharp edge and a little texture: something to fit."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    planes = [0.5 + 0.4 * np.sin(2 * np.pi * (x * (c + 1) + y * (2 - c % 2)) + c)
              for c in range(channels)]
    image = np.stack(planes, axis=-1)
    image[:, width // 2 :] *= 0.6
    image += 0.02 * rng.standard_normal(image.shape)
    peak = 65535 if dtype == np.uint16 else 255
    return np.clip(np.rint(np.clip(image, 0, 1) * peak), 0, peak).astype(dtype)


def tiny_config(steps: int = 60, finetune: int = 10, arch: str = "sasnet",
                channels: int = 3, device: str = "cpu") -> EncoderConfig:
    model = ModelConfig(arch=arch, channels=channels, embedding_width=24, hidden_width=16,
                        hidden_layers=2, band_limit=12, low_freq_range=3, n_groups=4,
                        grid_levels=3, grid_log2_size=6, mask_hidden=8)
    return EncoderConfig(model=model, fit=FitConfig(steps=steps, device=device),
                         quant=QuantConfig(finetune_steps=finetune))


def reseal(body: bytes) -> bytes:
    """A .sas body (everything before the CRC) with a fresh, valid CRC-32 appended."""
    return body + struct.pack("<I", zlib.crc32(body))
