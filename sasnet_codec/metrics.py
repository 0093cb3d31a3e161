"""Distortion and rate measures, with their units."""

from __future__ import annotations

import math

import numpy as np


def psnr_from_mse(mse: float, peak: float = 1.0) -> float:
    """PSNR in dB for a mean squared error on a [0, peak] scale (inf when exact)."""
    return math.inf if mse <= 0 else 10.0 * math.log10(peak * peak / mse)


def psnr(reference: np.ndarray, decoded: np.ndarray) -> float:
    """PSNR in dB between two integer images of the same dtype (peak 255 or 65535)."""
    if reference.shape != decoded.shape:
        raise ValueError(f"shape mismatch: {reference.shape} vs {decoded.shape}")
    peak = 65535.0 if reference.dtype == np.uint16 else 255.0
    diff = reference.astype(np.float64) - decoded.astype(np.float64)
    return psnr_from_mse(float(np.mean(diff * diff)), peak)


def bits_per_pixel(num_bytes: int, width: int, height: int) -> float:
    """Rate of a file of num_bytes for a width x height image, in bits per pixel."""
    return num_bytes * 8.0 / (width * height)
