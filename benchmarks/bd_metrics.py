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
