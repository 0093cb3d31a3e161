"""Per-image comparison of two rd_curve results at equal rate: the numbers behind the
ablation table's "at equal rate, N of 24 images better" columns.

    python -m benchmarks.equal_rate ablation/grid-features/sasnet.json \
        ablation/grid-features/sasnet-gf2.json

For every image and rate point of the first file, its PSNR minus the second file's PSNR on the
same image at the same rate (linear in log-rate between that image's neighbouring points,
extended from the end segments). A BD-rate averages whole curves; this says how many images a
lever helps at each preset, which the BD number hides.

A one-point screen (rd_curve --qualities 5 alone) has no curve to interpolate on; with
`--neighbours benchmarks/results/kodak-mini/sasnet.json` each image's base curve takes the
points it lacks from that file (the local slope, not the level, comes from them).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

Curve = dict[int, tuple[float, float]]   # rate point -> (bpp, PSNR dB)


def per_image_curves(report: dict) -> dict[str, Curve]:
    """An rd_curve results file's per-image rows, as one curve per image."""
    curves: dict[str, Curve] = defaultdict(dict)
    for row in report["per_image"]:
        curves[row["image"]][row["point"]] = (row["bpp"], row["psnr"])
    return dict(curves)


def machines(report: dict) -> dict[tuple[str, int], str | None]:
    """The machine that measured each (image, rate point) row; None in files from before
    rd_curve named it."""
    return {(row["image"], row["point"]): row.get("hardware") for row in report["per_image"]}


def with_neighbours(base: dict, neighbours: dict) -> dict:
    """`base` with, per image, the rows of `neighbours` at the points base lacks: a curve
    around a one-point screen's base."""
    held = {(row["image"], row["point"]) for row in base["per_image"]}
    borrowed = [row for row in neighbours["per_image"]
                if (row["image"], row["point"]) not in held]
    return {**base, "per_image": base["per_image"] + borrowed}


def psnr_at_rate(curve: Curve, bpp: float) -> float:
    """The curve's PSNR at `bpp`, linear in log-rate on the enclosing (or end) segment."""
    points = sorted(curve.values())
    log_rates = np.log([rate for rate, _ in points])
    psnrs = np.array([psnr for _, psnr in points])
    i = int(np.clip(np.searchsorted(log_rates, np.log(bpp)) - 1, 0, len(points) - 2))
    slope = (psnrs[i + 1] - psnrs[i]) / (log_rates[i + 1] - log_rates[i])
    return float(psnrs[i] + slope * (np.log(bpp) - log_rates[i]))


def compare(test: dict, base: dict) -> dict[int, dict]:
    """Per rate point of `test`: mean rate change against base's same point, mean PSNR gain at
    equal rate, how many images gain, the range of the gains, and how many images' two rows
    were measured on different machines (a neural encode differs per image between CPU
    models, by as much as the levers a screen measures)."""
    test_curves, base_curves = per_image_curves(test), per_image_curves(base)
    test_machines, base_machines = machines(test), machines(base)
    mixed: dict[int, int] = defaultdict(int)
    gains: dict[int, list[float]] = defaultdict(list)
    rate_changes: dict[int, list[float]] = defaultdict(list)
    for image, curve in test_curves.items():
        base_curve = base_curves.get(image, {})
        if len(base_curve) < 2 or not set(curve) <= set(base_curve):
            raise ValueError(f"the base's curve for {image} has points {sorted(base_curve)}: it "
                             f"needs at least two, including the test's {sorted(curve)} "
                             "(around a one-point screen: --neighbours)")
        for point, (bpp, psnr) in curve.items():
            gains[point].append(psnr - psnr_at_rate(base_curve, bpp))
            rate_changes[point].append(bpp / base_curve[point][0] - 1)
            mixed[point] += test_machines[image, point] != base_machines[image, point]
    return {point: {"rate_change_percent": 100 * float(np.mean(rate_changes[point])),
                    "equal_rate_gain_db": float(np.mean(gains[point])),
                    "images_better": sum(gain > 0 for gain in gains[point]),
                    "images": len(gains[point]),
                    "gain_range_db": (min(gains[point]), max(gains[point])),
                    "images_on_other_machines": mixed[point]}
            for point in sorted(gains)}


def main(argv: list[str] | None = None) -> dict[int, dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("test", help="rd_curve results JSON (e.g. the codec as shipped)")
    parser.add_argument("base", help="results JSON on the same images (e.g. a variant)")
    parser.add_argument("--neighbours", metavar="RESULTS",
                        help="results JSON whose rows fill the base's missing points (the "
                        "committed curve around a one-point screen's base)")
    args = parser.parse_args(argv)
    try:   # a missing file, one that is not JSON, or curves that cannot be compared
        test, base = (json.loads(Path(p).read_text()) for p in (args.test, args.base))
        if args.neighbours:
            base = with_neighbours(base, json.loads(Path(args.neighbours).read_text()))
        result = compare(test, base)
    except (OSError, ValueError) as error:
        parser.error(str(error))
    for point, r in result.items():
        low, high = r["gain_range_db"]
        print(f"point {point}: rate {r['rate_change_percent']:+.1f}%, at equal rate "
              f"{r['equal_rate_gain_db']:+.2f} dB ({r['images_better']} of {r['images']} "
              f"images better, {low:+.2f} to {high:+.2f})")
        if r["images_on_other_machines"]:
            print(f"  warning: {r['images_on_other_machines']} images' two rows were measured "
                  "on different machines; rerun the base with rd_curve --this-machine")
    return result


if __name__ == "__main__":
    main()
