"""What a rate-distortion run writes: CompressAI-schema results per codec, summary.md (the
Bjoentegaard deltas of sasnet against each codec, with a bootstrap interval over the images, and
the mean of every rate point) and the plot."""

from __future__ import annotations

import collections
import json
import math
import statistics
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .bd_metrics import bd_psnr, bd_rate, bd_rate_interval
from .rd_codecs import Row


ANCHORS = Path(__file__).resolve().parent / "anchors" / "kodak.json"


def aggregate(rows: list[Row], codec: str, images: int, name: str, description: str,
              fingerprint: str, places: dict[tuple[str, float, str], str]) -> dict:
    """CompressAI's schema: per rate point, the mean over images (complete points only); each
    per-image row also names its settings' place in the cache, for rd_cache.adopt_results, and the
    description ends with the machines that measured the rows."""
    points = sorted({r.point for r in rows if r.codec == codec})
    results = {key: [] for key in ("bpp", "psnr-rgb", "ms-ssim-rgb", "encoding_time",
                                   "decoding_time")}
    per_image = []
    for point in points:
        # sorted, so that the file (and the means' float rounding) does not depend on which
        # encode finished first
        mine = sorted((r for r in rows if r.codec == codec and r.point == point),
                      key=lambda r: r.image)
        if len(mine) < images:
            continue
        results["bpp"].append(statistics.fmean(r.bpp for r in mine))
        results["psnr-rgb"].append(statistics.fmean(r.psnr for r in mine))
        results["ms-ssim-rgb"].append(statistics.fmean(r.ms_ssim for r in mine))
        results["encoding_time"].append(statistics.fmean(r.encoding_time for r in mine))
        results["decoding_time"].append(statistics.fmean(r.decoding_time for r in mine))
        per_image += [{**asdict(r), "settings": places[r.codec, r.point, r.image]} for r in mine]
    machines = collections.Counter(row["hardware"] for row in per_image)
    description += "; measured on " + ", ".join(f"{machine} ({count} rows)"
                                                for machine, count in sorted(machines.items()))
    return {"name": name, "description": description, "codec_fingerprint": fingerprint,
            "results": results,
            "rate_points": [p for p in points
                            if sum(r.codec == codec and r.point == p for r in rows) >= images],
            "per_image": per_image}


def measured_on(reports: dict[str, dict]) -> list[str]:
    """One line per machine: the codecs and rate points whose rows it measured."""
    machines: dict[str, dict[str, set]] = {}
    for codec, report in reports.items():
        for row in report["per_image"]:
            machines.setdefault(row["hardware"], {}).setdefault(codec, set()).add(row["point"])
    return [f"- {machine}: " + "; ".join(f"{codec} {', '.join(f'{p:g}' for p in sorted(points))}"
                                         for codec, points in codecs.items())
            for machine, codecs in sorted(machines.items())]


def summary_markdown(reports: dict[str, dict], dataset: str, hw: str, settings: dict) -> str:
    lines = [f"# Rate-distortion on {dataset}", "",
             f"Run on {hw}. Settings: {json.dumps(settings)}.", "",
             "Rows measured on (a neural encode differs per image between CPU models, README "
             "\"Reproducibility\"):", "", *measured_on(reports), "",
             "Bjoentegaard deltas of **sasnet** against each codec, over the overlapping range "
             "(PCHIP interpolation of log-rate vs PSNR, integrated exactly; negative BD-rate = "
             "sasnet needs fewer bits for the same PSNR):", "",
             "| against | BD-rate | 95% interval (images resampled) | BD-PSNR | points (sasnet / "
             "other) |", "|---|---|---|---|---|"]
    sasnet = reports.get("sasnet")
    for codec, report in reports.items():
        if codec == "sasnet" or sasnet is None:
            continue
        ours, theirs = sasnet["results"], report["results"]
        rate = bd_rate(theirs["bpp"], theirs["psnr-rgb"], ours["bpp"], ours["psnr-rgb"])
        if math.isnan(rate):   # a one-point screen, or curves that do not overlap
            lines.append(f"| {report['name']} | - | - | - | {len(ours['bpp'])} / "
                         f"{len(theirs['bpp'])} (compare with benchmarks.equal_rate) |")
            continue
        gain = bd_psnr(theirs["bpp"], theirs["psnr-rgb"], ours["bpp"], ours["psnr-rgb"])
        low, high = bd_rate_interval(*per_image_curves(report, sasnet))
        lines.append(f"| {report['name']} | {rate:+.1f}% | {low:+.1f}% to {high:+.1f}% | "
                     f"{gain:+.2f} dB | {len(ours['bpp'])} / {len(theirs['bpp'])} |")
    lines += ["", "Mean over images at each rate point:", "",
              "| codec | setting | bpp | PSNR-RGB (dB) | MS-SSIM | encode (s) | decode (s) |",
              "|---|---|---|---|---|---|---|"]
    for codec, report in reports.items():
        r = report["results"]
        for i, point in enumerate(report["rate_points"]):
            lines.append(f"| {codec} | {point:g} | {r['bpp'][i]:.3f} | {r['psnr-rgb'][i]:.2f} | "
                         f"{r['ms-ssim-rgb'][i]:.4f} | {r['encoding_time'][i]:.2f} | "
                         f"{r['decoding_time'][i]:.3f} |")
    return "\n".join(lines) + "\n"


def per_image_curves(anchor: dict, test: dict) -> tuple[np.ndarray, ...]:
    """Both reports' per-image rates and PSNRs as images x rate points (the images both
    completed, in one order): anchor bpp, anchor PSNR, test bpp, test PSNR."""
    def table(report: dict) -> dict[str, dict[float, tuple[float, float]]]:
        rows: dict[str, dict[float, tuple[float, float]]] = {}
        for row in report["per_image"]:
            rows.setdefault(row["image"], {})[row["point"]] = (row["bpp"], row["psnr"])
        return rows

    tables = table(anchor), table(test)
    images = sorted(set(tables[0]) & set(tables[1]))
    curves = []
    for rows, report in zip(tables, (anchor, test)):
        points = report["rate_points"]
        curves += [np.array([[rows[image][p][k] for p in points] for image in images])
                   for k in (0, 1)]
    return tuple(curves)


def plot(reports: dict[str, dict], dataset: str, path: Path, with_anchors: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    for codec, report in reports.items():
        r = report["results"]
        style = dict(marker="o", linewidth=2.2 if codec == "sasnet" else 1.4)
        left.plot(r["bpp"], r["psnr-rgb"], label=report["name"], **style)
        right.plot(r["bpp"], [-10 * math.log10(max(1e-9, 1 - s)) for s in r["ms-ssim-rgb"]],
                   label=report["name"], **style)
    if with_anchors and ANCHORS.exists():
        for name, entry in json.loads(ANCHORS.read_text())["codecs"].items():
            bpp, psnr = zip(*entry["points"])
            left.plot(bpp, psnr, linestyle="--", marker=".", alpha=0.7, label=f"{name} [pub.]")
    left.set(xlabel="bits per pixel", ylabel="PSNR-RGB (dB)", title=f"{dataset}: PSNR")
    right.set(xlabel="bits per pixel", ylabel="MS-SSIM (dB)", title=f"{dataset}: MS-SSIM")
    for axis in (left, right):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
