"""Bjoentegaard delta rate and delta PSNR (VCEG-M33), with piecewise cubic Hermite (PCHIP)
interpolation instead of the original cubic polynomial fit, integrated exactly over the
overlapping range -- the variant of VCEG-AL22 / CompressAI's plots."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy.interpolate import PchipInterpolator


def _monotone(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted by x, dropping points whose x does not increase (PCHIP needs strict order)."""
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    keep = np.concatenate([[True], np.diff(x) > 0])
    return x[keep], y[keep]


Points = Sequence[float] | np.ndarray


def _mean_gap(x_a: Points, y_a: Points, x_b: Points, y_b: Points) -> float:
    """Mean of (y_b - y_a) over the overlap of the x ranges, NaN without overlap."""
    x_a, y_a = _monotone(np.asarray(x_a, float), np.asarray(y_a, float))
    x_b, y_b = _monotone(np.asarray(x_b, float), np.asarray(y_b, float))
    if len(x_a) < 2 or len(x_b) < 2:
        return math.nan
    low, high = max(x_a[0], x_b[0]), min(x_a[-1], x_b[-1])
    if high <= low:
        return math.nan
    area_a = PchipInterpolator(x_a, y_a).integrate(low, high)
    area_b = PchipInterpolator(x_b, y_b).integrate(low, high)
    return float((area_b - area_a) / (high - low))


def bd_rate(anchor_bpp: Points, anchor_psnr: Points, test_bpp: Points,
            test_psnr: Points) -> float:
    """Average rate change of `test` against `anchor` at equal PSNR, in percent (negative:
    test needs fewer bits)."""
    gap = _mean_gap(anchor_psnr, np.log(anchor_bpp), test_psnr, np.log(test_bpp))
    return (math.exp(gap) - 1) * 100 if not math.isnan(gap) else math.nan


def bd_psnr(anchor_bpp: Points, anchor_psnr: Points, test_bpp: Points,
            test_psnr: Points) -> float:
    """Average PSNR gain of `test` over `anchor` at equal rate, in dB."""
    return _mean_gap(np.log(anchor_bpp), anchor_psnr, np.log(test_bpp), test_psnr)


def bd_rate_interval(anchor_bpp: np.ndarray, anchor_psnr: np.ndarray, test_bpp: np.ndarray,
                     test_psnr: np.ndarray, level: float = 0.95, resamples: int = 1000,
                     seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of `bd_rate` over the test images. Each array is images x
    rate points, row i of all four the same image; a resample draws images with replacement
    and compares the two mean curves. It says how much a BD-rate owes to the particular images
    (and to each image's fitting noise), which a single figure on 24 images hides."""
    arrays = [np.asarray(a, float) for a in (anchor_bpp, anchor_psnr, test_bpp, test_psnr)]
    images = arrays[0].shape[0]
    if any(a.ndim != 2 or a.shape[0] != images for a in arrays):
        raise ValueError("every array needs one row per image, the same images in each")
    draws = np.random.default_rng(seed).integers(0, images, size=(resamples, images))
    rates = np.array([bd_rate(*(a[pick].mean(axis=0) for a in arrays)) for pick in draws])
    rates = rates[~np.isnan(rates)]  # resamples whose curves do not overlap
    if not rates.size:
        return math.nan, math.nan
    low, high = np.percentile(rates, [50 * (1 - level), 50 * (1 + level)])
    return float(low), float(high)
