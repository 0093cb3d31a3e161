"""Fitting quality: SASNet vs SIREN vs the embedding without masks, at matched parameter
counts (within 5%), same steps and schedule, float weights (no quantization).

    python -m benchmarks.fit_quality                    # Kodak-mini from ../shared/data/kodak
    python -m benchmarks.fit_quality --images DIR --downscale 1 --params 20000

Writes benchmarks/results/fit_quality_<dataset>_<params>p_<steps>s.json (per image and mean)
and a .md table beside it.
Resumable: finished (image, arch) pairs are kept in the JSON and skipped on a rerun.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

import numpy as np
import torch

from sasnet_codec.config import FitConfig
from sasnet_codec.coords import domain_extent
from sasnet_codec.fit import fit
from sasnet_codec.image_io import image_from_array
from sasnet_codec.metrics import psnr_from_mse
from sasnet_codec.layout import parameter_count
from sasnet_codec.presets import shape_for_budget
from sasnet_codec.render import render_float

from .datasets import dataset_label, default_folder, load_images
from .reports import RESULTS

ARCHS = ("sasnet", "femb", "siren")
BORDER = 4  # pixels: the frame where a periodic embedding would tie opposite edges together


def border_psnr(reference: np.ndarray, fitted: np.ndarray) -> float:
    mask = np.zeros(reference.shape[:2], bool)
    mask[:BORDER], mask[-BORDER:], mask[:, :BORDER], mask[:, -BORDER:] = True, True, True, True
    return psnr_from_mse(float(np.mean((reference[mask] - fitted[mask]) ** 2)))


def run(args: argparse.Namespace) -> dict:
    folder = Path(args.images) if args.images else default_folder()
    images = load_images(folder, args.downscale, args.limit)
    label = dataset_label(folder, args.downscale)
    stem = f"fit_quality_{label}_{args.params}p_{args.steps}s"
    out_json = RESULTS / f"{stem}.json"
    done = json.loads(out_json.read_text()) if out_json.exists() and not args.fresh else {}
    rows = {(r["image"], r["arch"]): r for r in done.get("rows", [])}
    RESULTS.mkdir(parents=True, exist_ok=True)
    settings = {"steps": args.steps, "params": args.params, "downscale": args.downscale,
                "threads": torch.get_num_threads()}
    if done and done.get("settings", settings) != settings:
        raise SystemExit(f"{out_json} was made with other settings; pass --fresh to redo it")
    for image in images:
        data = image_from_array(image.pixels)
        for arch in ARCHS:
            if (image.name, arch) in rows:
                continue
            config = shape_for_budget(args.params, data.width, data.height, data.channels, arch)
            result = fit(data, config, FitConfig(steps=args.steps, seed=0, device=args.device),
                         progress=not args.quiet)
            fitted = render_float(result.model, data.width, data.height,
                                  domain_extent(data.width, data.height))
            rows[(image.name, arch)] = {
                "image": image.name, "arch": arch, "parameters": parameter_count(config),
                "psnr": result.psnr, "border_psnr": border_psnr(data.pixels, fitted),
                "seconds_per_step": result.seconds / result.steps,
            }
            print(f"{image.name} {arch:7s} {rows[(image.name, arch)]['psnr']:.2f} dB "
                  f"({rows[(image.name, arch)]['parameters']} params, "
                  f"{rows[(image.name, arch)]['seconds_per_step'] * 1000:.1f} ms/step)", flush=True)
            report = {"dataset": label, "settings": settings, "rows": list(rows.values())}
            out_json.write_text(json.dumps(report, indent=1))
    report = {"dataset": label, "settings": settings, "rows": list(rows.values()),
              "mean": summarise(list(rows.values()))}
    out_json.write_text(json.dumps(report, indent=1))
    out_json.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    return report


def summarise(rows: list[dict]) -> dict:
    means = {}
    for arch in ARCHS:
        mine = [r for r in rows if r["arch"] == arch]
        if mine:
            means[arch] = {key: statistics.fmean(r[key] for r in mine)
                           for key in ("parameters", "psnr", "border_psnr", "seconds_per_step")}
            means[arch]["images"] = len(mine)
    return means


def markdown(report: dict) -> str:
    s = report["settings"]
    lines = [
        f"# Fit quality on {report['dataset']} ({s['steps']} steps, budget {s['params']} "
        f"parameters, float weights, {s['threads']} CPU threads)", "",
        "| arch | images | parameters | PSNR (dB) | border PSNR (dB) | ms / step |",
        "|---|---|---|---|---|---|",
    ]
    for arch, m in report["mean"].items():
        lines.append(f"| {arch} | {m['images']} | {m['parameters']:.0f} | {m['psnr']:.2f} | "
                     f"{m['border_psnr']:.2f} | {m['seconds_per_step'] * 1000:.1f} |")
    mean = report["mean"]
    if "sasnet" in mean and "siren" in mean:
        sasnet = mean["sasnet"]["psnr"]
        lines += ["", f"SASNet - SIREN: {sasnet - mean['siren']['psnr']:+.2f} dB; "
                  f"SASNet - embedding without masks: "
                  f"{sasnet - mean.get('femb', {'psnr': math.nan})['psnr']:+.2f} dB"]
    lines += ["", "Per image (PSNR dB):", "", "| image | " + " | ".join(ARCHS) + " |",
              "|---|" + "---|" * len(ARCHS)]
    by_image: dict[str, dict] = {}
    for row in report["rows"]:
        by_image.setdefault(row["image"], {})[row["arch"]] = row["psnr"]
    for name in sorted(by_image):
        lines.append(f"| {name} | " + " | ".join(
            f"{by_image[name].get(a, math.nan):.2f}" for a in ARCHS) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", help="folder of images (default: Kodak beside the checkout)")
    parser.add_argument("--downscale", type=int, default=4, help="Lanczos factor (4: Kodak-mini)")
    parser.add_argument("--limit", type=int, help="only the first N images")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--params", type=int, default=8000, help="parameter budget per network")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--fresh", action="store_true", help="ignore earlier results")
    parser.add_argument("--quiet", action="store_true")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
