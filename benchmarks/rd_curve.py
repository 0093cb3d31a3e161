"""Rate-distortion curves: sasnet-codec (SASNet, and the same pipeline with SIREN) against
Pillow's JPEG, WebP and AVIF on the same images, with Bjoentegaard deltas and a plot.

    python -m benchmarks.rd_curve --downscale 4            # Kodak-mini on CPU (all 24)
    python -m benchmarks.rd_curve --downscale 4 --limit 4  # a quick look
    python -m benchmarks.rd_curve --device cuda            # full-resolution Kodak on a GPU
    python -m benchmarks.rd_curve --downscale 4 --limit 8 --arch sasnet --pillow \
        --variant slope1 rd_slope=1                         # an ablation: one Recipe field off

Rates are the sizes of real files (sasnet: .sas files written by the public API); PSNR-RGB is
averaged per image as CompressAI does; MS-SSIM comes from pytorch-msssim. Per-image results are
cached, keyed by the codec's source and each encode's resolved settings (Pillow's rows by the
versions of Pillow and its codec library instead), so an interrupted run continues, a changed
codec is re-measured, and a preset change re-runs only the encodes whose network or schedule it
changes. The per-image rows of results files already in the output folder count as cached when
the same codec source (for Pillow's, the same Pillow build) made them, so a fresh clone
re-plots the committed results and runs only what is new. After a change to the codec's
source that should not change its output,
`--carry-from OLD_FINGERPRINT [...]` re-encodes one image per network and, when the bytes
match (the older file rewritten in today's container, so a format change that keeps the coded
content carries too), carries each older source's encodes over instead of re-running them.
Every row names the machine that measured it, and the cache keeps a neural encode per machine:
the same settings give other bytes on another CPU model. Rows from another machine re-plot
results anywhere, with a note that says so; `--this-machine` encodes them here, which a screen
needs for its base.
`--seed N` encodes every neural row from another seed (the embedding's draw and the fit's
initialisation and batches): a lever's gain read on two seeds is told from fitting noise.
Writes benchmarks/results/<dataset>/: one CompressAI-schema JSON per codec (each row naming
the settings and machine that made it), summary.md (BD-rates with a bootstrap interval over
the images, and the machines) and rd.png.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures as futures
import contextlib
import hashlib
import io
import json
import math
import multiprocessing
import os
import re
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import PIL
from PIL import Image, features
from tqdm.auto import tqdm

from sasnet_codec.config import EncoderConfig
from sasnet_codec.device import resolve_device
from sasnet_codec.metrics import psnr
from sasnet_codec.presets import QUALITY_LEVELS

from .bd_metrics import bd_psnr, bd_rate, bd_rate_interval
from .datasets import BenchImage, dataset_label, default_folder, load_images
from .reports import RESULTS, hardware

ROOT = Path(__file__).resolve().parent
CACHE = ROOT / "cache"
ANCHORS = ROOT / "anchors" / "kodak.json"
PILLOW_POINTS = {
    "jpeg": (10, 20, 30, 50, 70, 85, 95),
    "webp": (5, 20, 40, 60, 80, 95),
    "avif": (10, 30, 50, 65, 80, 90),
}
PILLOW_FORMATS = {"jpeg": ("JPEG", "jpg", {}), "webp": ("WEBP", "webp", {"method": 6}),
                  "avif": ("AVIF", "avif", {"speed": 4})}   # format, Pillow feature, options
CODEC_NAMES = {"sasnet": "sasnet-codec (SASNet)", "siren": "sasnet-codec pipeline with SIREN",
               "femb": "sasnet-codec pipeline, embedding without masks",
               "jpeg": "JPEG (Pillow)", "webp": "WebP (Pillow)", "avif": "AVIF (Pillow)"}


@dataclass(frozen=True)
class Row:
    codec: str
    point: float          # quality setting of the codec (sasnet: quality preset)
    image: str
    bpp: float
    psnr: float
    ms_ssim: float
    encoding_time: float  # seconds
    decoding_time: float  # seconds
    hardware: str         # the machine that measured it: a neural encode depends on the CPU model


def ms_ssim_rgb(reference: np.ndarray, decoded: np.ndarray) -> float:
    """MS-SSIM (5 scales). The Gaussian window shrinks from 11 to fit small images (Kodak-mini's
    128-pixel side needs 7: the coarsest scale must still hold one window)."""
    import torch
    from pytorch_msssim import ms_ssim

    side = min(reference.shape[:2])
    window = next((w for w in (11, 9, 7, 5, 3) if side > (w - 1) * 16), None)
    if window is None:
        return math.nan
    to_tensor = lambda a: torch.from_numpy(a.astype(np.float32)).permute(2, 0, 1)[None]
    return float(ms_ssim(to_tensor(reference), to_tensor(decoded), data_range=255,
                         win_size=window))


def codec_fingerprint() -> str:
    """Hash of the source that turns encoder settings into bytes: every module but presets.py,
    which only chooses the settings (and reaches the cache through them: `settings_key`)."""
    digest = hashlib.sha256()
    package = ROOT.parent / "sasnet_codec"
    for path in sorted(package.rglob("*.py")):
        if path.name == "presets.py":
            continue
        digest.update(path.relative_to(package).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def pillow_build(codec: str) -> str:
    """Pillow's version and that of the library behind `codec`: part of the key of its cached
    rows, so that an upgrade of either is measured again."""
    library = PILLOW_FORMATS[codec][1]
    return f"pillow-{PIL.__version__}-{library}-{features.version(library)}"


def run_pillow(codec: str, quality: int, image: BenchImage, machine: str) -> Row:
    fmt, _, options = PILLOW_FORMATS[codec]
    buffer = io.BytesIO()
    start = time.perf_counter()
    Image.fromarray(image.pixels).save(buffer, format=fmt, quality=quality, **options)
    encoding = time.perf_counter() - start
    data = buffer.getvalue()
    start = time.perf_counter()
    with Image.open(io.BytesIO(data)) as decoded_image:
        decoded = np.asarray(decoded_image.convert("RGB"))
    decoding = time.perf_counter() - start
    height, width = image.pixels.shape[:2]
    return Row(codec, quality, image.name, len(data) * 8 / (width * height),
               psnr(image.pixels, decoded), ms_ssim_rgb(image.pixels, decoded), encoding,
               decoding, machine)


def _worker_init(threads: int) -> None:
    """Torch's threads per encode, and a watch that ends this worker with the run: a run
    stopped by a signal Python does not catch (SIGTERM, SIGKILL) would otherwise leave its
    workers encoding into the cache."""
    import torch

    torch.set_num_threads(threads)
    threading.Thread(target=_exit_with_parent, daemon=True).start()


def _exit_with_parent() -> None:
    multiprocessing.parent_process().join()   # returns once the parent has gone
    os._exit(1)


def run_neural(codec: NeuralCodec, quality: int, image: BenchImage, folder: str, device: str,
               machine: str) -> Row:
    """One real encode and decode through the public file API, on the machine `machine`
    names."""
    import sasnet_codec as sc

    work = Path(folder)
    work.mkdir(parents=True, exist_ok=True)
    source, coded = work / f"{image.name}.png", work / f"{image.name}.sas"
    Image.fromarray(image.pixels).save(source)
    start = time.perf_counter()
    sc.encode_file(source, coded, quality=quality, arch=codec.arch, seed=codec.seed,
                   device=device, recipe=sc.DEFAULT_RECIPE.replace(**codec.recipe),
                   progress=False)
    encoding = time.perf_counter() - start
    row = Row(codec.key, quality, image.name, 0, 0, 0, encoding, 0, machine)
    return measured(row, image, coded)


def measured(row: Row, image: BenchImage, coded: Path) -> Row:
    """`row` with the rate, distortion and decode time of the file `coded` of `image`, decoded
    by this source's decoder."""
    import sasnet_codec as sc

    start = time.perf_counter()
    decoded = sc.decode_file(coded, coded.with_suffix(".decoded.png"))
    decoding = time.perf_counter() - start
    height, width = image.pixels.shape[:2]
    return replace(row, bpp=coded.stat().st_size * 8 / (width * height),
                   psnr=psnr(image.pixels, decoded), ms_ssim=ms_ssim_rgb(image.pixels, decoded),
                   decoding_time=decoding)


ADDED_SETTINGS: dict[tuple[str, str], object] = {
    ("fit", "mask_warmup"): 0.0, ("fit", "adam_beta2"): 0.99,
    ("fit", "adam_beta1"): 0.9, ("quant", "stage_steps"): 0,
    ("quant", "stage_lr_share"): 0.1, ("quant", "stage_splits"): 1,
    ("quant", "stage_last_hidden"): False}
"""Encoder settings added after the cache began, each with the value that does what the code
did before it existed."""

RETIRED_SETTINGS: dict[tuple[str, str], object] = {("quant", "finetune_lr"): 1e-5}
"""Encoder settings removed after the cache began, each with the value every cached encode
held (whether or not it used it)."""


@dataclass(frozen=True)
class NeuralCodec:
    """sasnet-codec with one architecture and recipe: the codec itself, --arch siren, or a
    --variant that changes recipe fields (an ablation)."""

    key: str              # results file name and summary label
    arch: str
    recipe: dict          # Recipe fields that differ from the default
    name: str
    seed: int = 0         # the encoder's seed (--seed: another draw of every fit)

    def config(self, quality: int, image: BenchImage, device: str) -> EncoderConfig:
        """The full encoder settings this codec uses on `image`."""
        import sasnet_codec as sc

        height, width, channels = image.pixels.shape
        return sc.encoder_config(width, height, channels, quality, self.arch, self.seed, device,
                                 recipe=sc.DEFAULT_RECIPE.replace(**self.recipe))

    def settings_key(self, quality: int, image: BenchImage, device: str) -> str:
        """Hash of the full encoder settings: a variant that builds the same network and
        schedule as the codec shares its cached encode. A setting of ADDED_SETTINGS at its
        value there is left out and one of RETIRED_SETTINGS put back, so the cache's keys
        outlive the settings' history."""
        settings = asdict(self.config(quality, image, device))
        for (section, name), value in ADDED_SETTINGS.items():
            if settings[section][name] == value:
                del settings[section][name]
        for (section, name), value in RETIRED_SETTINGS.items():
            settings[section][name] = value
        text = json.dumps(settings, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_value(kind: type, text: str) -> object:
    """One --variant value as the Recipe field's type; a bool is spelled true/false or 1/0
    (bool("false") would be True)."""
    if kind is bool:
        spellings = {"true": True, "1": True, "false": False, "0": False}
        if text.lower() not in spellings:
            raise ValueError(text)
        return spellings[text.lower()]
    return kind(text)


def parse_variant(words: list[str]) -> tuple[str, dict]:
    """["label", "field=value", ...] -> (label, Recipe overrides). A per-quality field takes
    one number for every level or one per level separated by '/'."""
    import sasnet_codec as sc

    label, assignments = words[0], words[1:]
    defaults = sc.DEFAULT_RECIPE
    overrides = {}
    for assignment in assignments:
        field_name, _, text = assignment.partition("=")
        if not hasattr(defaults, field_name) or not text:
            raise SystemExit(f"--variant {label}: {assignment!r} is not FIELD=VALUE of a Recipe")
        current = getattr(defaults, field_name)
        kind = type(current[0]) if isinstance(current, tuple) else type(current)
        try:
            values = [parse_value(kind, v) for v in text.split("/")]
        except ValueError:
            raise SystemExit(f"--variant {label}: {text!r} is not {kind.__name__}") from None
        if isinstance(current, tuple):
            overrides[field_name] = tuple(values * len(current) if len(values) == 1 else values)
        elif len(values) == 1:
            overrides[field_name] = values[0]
        else:
            raise SystemExit(f"--variant {label}: {field_name} takes one value")
    try:
        defaults.replace(**overrides)
    except sc.CodecError as error:
        raise SystemExit(f"--variant {label}: {error}") from None
    return label, overrides


def neural_codecs(args: argparse.Namespace) -> list[NeuralCodec]:
    import sasnet_codec as sc

    common = {"fit_steps": (args.steps,) * len(sc.QUALITY_LEVELS)} if args.steps else {}
    codecs = [NeuralCodec(arch, arch, common, CODEC_NAMES[arch], args.seed) for arch in args.arch]
    for words in args.variant or []:
        label, overrides = parse_variant(words)
        recipe = {**common, **overrides}
        described = ", ".join(f"{k}={v}" for k, v in overrides.items())
        codecs += [NeuralCodec(f"{arch}-{label}", arch, recipe,
                               f"{CODEC_NAMES[arch]}, {described}", args.seed)
                   for arch in args.arch]
    return codecs


def estimate_seconds(image: BenchImage, codec: NeuralCodec, quality: int, device: str,
                     threads: int) -> float:
    """Wall-clock guess for one encode: time a few fitting steps of its network on `image`, on
    as many pixels as the fit's batches hold, and scale by steps (fit + fine-tune + search,
    about 1.25x the fit)."""
    import sasnet_codec as sc
    from sasnet_codec.fit import Targets
    from sasnet_codec.model import SASNet

    config = codec.config(quality, image, device)
    with torch_threads(threads):
        model = SASNet(config.model, device=sc.device.resolve_device(device))
        targets = Targets.from_image(sc.image_from_array(image.pixels),
                                     next(model.parameters()).device)
        coords = targets.coords[:config.fit.max_batch_pixels]
        timings = []
        for _ in range(6):  # the first warms up; the fastest of the rest did not wait
            start = time.perf_counter()
            model(coords).square().mean().backward()
            timings.append(time.perf_counter() - start)
    return 1.25 * min(timings[1:]) * (config.fit.steps + config.quant.finetune_steps)


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Torch's thread count set as an encode worker sets it (`_worker_init`), then restored:
    timings and check encodes in this process match the workers'."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def aggregate(rows: list[Row], codec: str, images: int, name: str, description: str,
              fingerprint: str, places: dict[tuple[str, float, str], str]) -> dict:
    """CompressAI's schema: per rate point, the mean over images (complete points only); each
    per-image row also names its settings' place in the cache, for `adopt_results`, and the
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


NEURAL_PLACES = "encodes/"
"""The cache places of neural encodes (a Pillow codec's are named after its build)."""


def is_neural(place: str) -> bool:
    """Whether a cache place holds neural encodes (kept per codec source and machine)."""
    return place.startswith(NEURAL_PLACES)


def machine_folder(machine: str) -> str:
    """A machine's `hardware()` description as a folder name."""
    return re.sub(r"[^A-Za-z0-9]+", "-", machine).strip("-")


def entry_folder(root: Path, place: str, machine: str) -> Path:
    """Where the cache of one codec source, at `root`, keeps one row (and a neural encode's
    files): a neural encode under the machine that made it as well, for the same settings give
    other bytes on another CPU model (README, Reproducibility); a Pillow row once, beside the
    sources' folders, since neither our source nor the CPU changes its bytes (its place names
    the Pillow build that does)."""
    if is_neural(place):
        return root / place / machine_folder(machine)
    return root.parent / place


def cached_file(root: Path, entry: dict) -> Path:
    """The .sas file behind a neural results row, in the cache of its codec source at `root`."""
    return entry_folder(root, entry["settings"], entry["hardware"]) / f"{entry['image']}.sas"


def row_from(entry: dict) -> Row | None:
    """A Row from a cached or published row, or None when it lacks a field (an older rd_curve
    wrote it): such a row is measured again rather than guessed."""
    if not all(field.name in entry for field in fields(Row)):
        return None
    return Row(**{field.name: entry[field.name] for field in fields(Row)})


def save_row(path: Path, row: Row) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(row)))


def cached_row(root: Path, place: str, image: str, here: str, this_machine: bool) -> Row | None:
    """The cache's row for `image` at `place`: this machine's; else, unless `this_machine`, a
    neural row another machine made (the first by name), which re-plots published results on
    any machine and is named as foreign at start-up."""
    own = entry_folder(root, place, here) / f"{image}.json"
    others = (sorted((root / place).glob(f"*/{image}.json"))
              if is_neural(place) and not this_machine else [])
    for path in [own, *(path for path in others if path != own)]:
        if path.exists() and (row := row_from(json.loads(path.read_text()))):
            return row
    return None


def adopt_results(folder: Path, fingerprint: str, root: Path, places: set[str]) -> None:
    """Put into the cache at `root` the rows, at one of `places`, of the results files in
    `folder` that the cache lacks, neural rows only where this codec source made them: results
    on disk are as good as the cache they came from, and once cached they survive a run that
    rewrites the files."""
    for path in sorted(folder.glob("*.json")):
        report = json.loads(path.read_text())
        if not isinstance(report, dict) or "per_image" not in report:
            continue
        ours = report.get("codec_fingerprint") == fingerprint
        for entry in report["per_image"]:
            row = row_from(entry)
            if row is None or entry["settings"] not in places or (
                    is_neural(entry["settings"]) and not ours):
                continue
            cached = entry_folder(root, entry["settings"], row.hardware) / f"{row.image}.json"
            if not cached.exists():
                save_row(cached, row)


def carry_encodes(old_root: Path, root: Path, tasks: list[tuple[str, int, BenchImage]],
                  places: dict, codecs: dict[str, NeuralCodec], device: str, threads: int,
                  here: str) -> tuple[int, int]:
    """Copy into the cache at `root` the encodes of `tasks` it lacks and the cache of another
    codec source (`old_root`) holds, from every machine there, once the cheapest encode of each
    architecture that this machine made there, encoded again now, gave the same bytes: a change
    that alters no output should not cost every encode again, and one that does alters the
    check's bytes and is refused. A carried encode is decoded again, so that its row measures
    this source's decoder (its timings stay those of the machine that made it). Rows the older
    cache holds without their .sas (adopted from results files) come too, once their network's
    check passed; a network with no .sas of this machine's to check carries nothing. The check
    may use an encode carried before, so an interrupted carry resumes. Returns the encodes
    carried and the re-encodes that checked them."""
    held, checkable = {}, []
    for codec, quality, image in tasks:
        place = places[codec, quality, image.name]
        mine = entry_folder(old_root, place, here)
        if (mine / f"{image.name}.json").exists() and (mine / f"{image.name}.sas").exists():
            checkable.append((codec, quality, image, mine))
        for old in sorted((old_root / place).glob(f"*/{image.name}.json")):
            new = root / place / old.parent.name
            if not (new / old.name).exists():
                held[new, image.name] = (codec, quality, image, old.parent)

    def pixel_steps(entry: tuple) -> int:
        fit = codecs[entry[0]].config(entry[1], entry[2], device).fit
        return fit.steps * fit.max_batch_pixels

    wanted = {codecs[entry[0]].arch for entry in held.values()}
    checks: dict[str, tuple] = {}
    for entry in sorted(checkable, key=pixel_steps):
        if codecs[entry[0]].arch in wanted:
            checks.setdefault(codecs[entry[0]].arch, entry)
    same_container = True
    with torch_threads(threads):
        for codec, quality, image, old in checks.values():
            with tempfile.TemporaryDirectory() as work:
                run_neural(codecs[codec], quality, image, work, device, here)
                fresh = (Path(work) / f"{image.name}.sas").read_bytes()
            older = (old / f"{image.name}.sas").read_bytes()
            if fresh != repacked(older):
                raise SystemExit(f"--carry-from {old_root.name}: {codec} at quality {quality} "
                                 f"on {image.name} encodes to other bytes now; nothing carried")
            same_container &= fresh == older
    # a row without its .sas cannot be repacked: it comes only while the container is unchanged
    carried = {key: entry for key, entry in held.items() if codecs[entry[0]].arch in checks
               and (same_container or (entry[3] / f"{key[1]}.sas").exists())}
    for (folder, name), (_, _, image, old) in carried.items():
        folder.mkdir(parents=True, exist_ok=True)
        for path in old.glob(f"{name}.*"):   # the coded file in today's container
            if path.suffix == ".sas":
                (folder / path.name).write_bytes(repacked(path.read_bytes()))
            else:
                shutil.copy2(path, folder / path.name)
        row = row_from(json.loads((folder / f"{name}.json").read_text()))
        if row and (folder / f"{name}.sas").exists():   # the decoder may have changed
            again = measured(row, image, folder / f"{name}.sas")
            save_row(folder / f"{name}.json", replace(again, decoding_time=row.decoding_time))
    return len(carried), len(checks)


def repacked(data: bytes) -> bytes:
    """A .sas file in today's container: the same network and payload, so a format change that
    alters no coded content does not cost every encode again."""
    from sasnet_codec import CodecError, bitstream

    try:
        return bitstream.pack(bitstream.unpack(data))
    except CodecError:   # not a file today's decoder reads: compared as it is
        return data


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


def run(args: argparse.Namespace) -> dict[str, dict]:
    folder = Path(args.images) if args.images else default_folder()
    images = load_images(folder, args.downscale, args.limit)
    dataset = args.name or dataset_label(folder, args.downscale)
    out = (Path(args.output) if args.output else RESULTS / dataset).resolve()
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(args.cache) if args.cache else CACHE
    fingerprint = codec_fingerprint() + (f"-{args.device}" if args.device != "auto" else "")
    cores = os.cpu_count() or 1
    jobs = max(1, min(args.jobs or cores, len(images)))
    threads = args.threads or max(1, cores // jobs)
    codecs = {c.key: c for c in neural_codecs(args)}
    tasks = [(codec, q, image) for codec in args.pillow for q in PILLOW_POINTS[codec]
             for image in images]
    tasks += [(key, q, image) for key in codecs for q in args.qualities for image in images]
    root = cache / dataset / fingerprint
    builds = {codec: pillow_build(codec) for codec in args.pillow}
    places = {(codec, point, image.name): f"{codec}/{builds[codec]}/{point:g}"
              if codec in PILLOW_POINTS
              else NEURAL_PLACES + codecs[codec].settings_key(point, image, args.device)
              for codec, point, image in tasks}
    hw = hardware(str(resolve_device(args.device)))
    folders = {task: entry_folder(root, place, hw) for task, place in places.items()}
    # a screen's own folder, then the dataset's committed curves (its baseline, without a cache)
    wanted = set(places.values())
    for published in dict.fromkeys((out, RESULTS / dataset)):   # each read once
        adopt_results(published, fingerprint, root, wanted)
    neural = [task for task in tasks if task[0] in codecs]
    for older in args.carry_from or ():   # in the order given: each fills what is still missing
        carried, checks = carry_encodes(cache / dataset / older, root, neural, places, codecs,
                                        args.device, threads, hw)
        print(f"carried {carried} encodes from {older} ({checks} byte-identical re-encodes)")
    rows: list[Row] = []
    todo = []
    for codec, point, image in tasks:
        # may come from another codec key with the same settings
        row = cached_row(root, places[codec, point, image.name], image.name, hw,
                         args.this_machine)
        if row:
            rows.append(replace(row, codec=codec, point=point))
        else:
            todo.append((codec, point, image))
    foreign = collections.Counter(row.hardware for row in rows
                                  if row.codec in codecs and row.hardware != hw)
    if foreign:
        print(f"note: {sum(foreign.values())} neural rows were encoded on other hardware than "
              f"this {hw} ({'; '.join(sorted(foreign))}); a neural encode differs per image "
              "between CPU models, so a variant is compared with its base after --this-machine "
              "has encoded the base here")
    # Tasks with the same settings on the same image share one encode (the first one runs).
    sharing: dict[tuple[Path, str], list[tuple[str, int, BenchImage]]] = {}
    for codec, point, image in (t for t in todo if t[0] in codecs):
        sharing.setdefault((folders[codec, point, image.name], image.name), []).append(
            (codec, point, image))
    groups = list(sharing.values())   # one encode each, run by its first task
    workers = min(jobs, len(groups))   # one: encode in this process (no worker to start)
    print(f"{dataset}: {len(images)} images, {len(tasks)} encodes, "
          f"{len(todo)} to run ({len(rows)} cached); {jobs} worker(s) x {threads} thread(s)")
    if groups:
        counts = collections.Counter(group[0][:2] for group in groups)   # (network, quality)
        seconds = sum(count * estimate_seconds(images[0], codecs[key], q, args.device, threads)
                      for (key, q), count in counts.items()) / workers
        print(f"estimated wall clock for the neural encodes: ~{seconds / 60:.0f} min", flush=True)

    def encode_arguments(task: tuple[str, int, BenchImage]) -> tuple:
        """`run_neural`'s arguments for one neural task."""
        key, quality, image = task
        return (codecs[key], quality, image, str(folders[key, quality, image.name]),
                args.device, hw)

    def store(row: Row, group: list[tuple[str, int, BenchImage]]) -> None:
        """One cached file per encode; a row for every task that shares it."""
        save_row(folders[row.codec, row.point, row.image] / f"{row.image}.json", row)
        rows.extend(replace(row, codec=codec, point=point) for codec, point, _ in group)
        bar.update(len(group))

    with tqdm(total=len(todo), desc="rd", unit="encode", disable=args.quiet) as bar:
        for task in [t for t in todo if t[0] in PILLOW_POINTS]:
            store(run_pillow(*task, hw), [task])
        if workers == 1:   # a worker's start (a second import of torch) would buy nothing
            with torch_threads(threads):
                for group in groups:
                    store(run_neural(*encode_arguments(group[0])), group)
        elif workers > 1:
            context = multiprocessing.get_context("spawn")
            with futures.ProcessPoolExecutor(workers, context, _worker_init, (threads,)) as pool:
                pending = {pool.submit(run_neural, *encode_arguments(group[0])): group
                           for group in groups}
                for done in futures.as_completed(pending):
                    store(done.result(), pending[done])
    description = (f"{dataset}, {len(images)} images; codec {fingerprint}"
                   + (f", fit steps {args.steps}" if args.steps else "")
                   + (f", seed {args.seed}" if args.seed else ""))
    names = {**{c: CODEC_NAMES[c] for c in args.pillow}, **{k: c.name for k, c in codecs.items()}}
    reports = {codec: aggregate(rows, codec, len(images), names[codec], description, fingerprint,
                                places)
               for codec in list(codecs) + list(args.pillow)}
    for codec, report in reports.items():
        (out / f"{codec}.json").write_text(json.dumps(report, indent=1))
    settings = {"images": len(images), "downscale": args.downscale,
                "sasnet_qualities": args.qualities, "fit_steps": args.steps or "preset",
                **({"seed": args.seed} if args.seed else {}),
                "jobs": jobs, "threads_per_job": threads}
    (out / "summary.md").write_text(summary_markdown(reports, dataset, hw, settings))
    plot(reports, dataset, out / "rd.png", with_anchors=dataset == "kodak")
    print((out / "summary.md").read_text())
    return reports


def main(argv: list[str] | None = None) -> dict[str, dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", help="folder of images (default: Kodak beside the checkout)")
    parser.add_argument("--downscale", type=int, default=1, help="Lanczos factor (4: Kodak-mini)")
    parser.add_argument("--limit", type=int, help="only the first N images")
    parser.add_argument("--name", help="dataset label for the results folder")
    parser.add_argument("--output", help="results folder (default benchmarks/results/<dataset>)")
    parser.add_argument("--arch", nargs="+", default=["sasnet", "siren"],
                        choices=["sasnet", "siren", "femb"], help="networks to run")
    parser.add_argument("--qualities", nargs="+", type=int, default=list(QUALITY_LEVELS),
                        choices=QUALITY_LEVELS, help="sasnet quality presets (rate points)")
    parser.add_argument("--pillow", nargs="*", default=["jpeg", "webp", "avif"],
                        choices=sorted(PILLOW_POINTS), help="Pillow codecs to compare")
    parser.add_argument("--variant", nargs="+", action="append", metavar="LABEL FIELD=VALUE",
                        help="also run each --arch with these Recipe fields changed (an ablation, "
                        "or a preset change measured on every network), e.g. --variant slope1 "
                        "rd_slope=1; repeatable")
    parser.add_argument("--cache", help=f"per-image results cache (default {CACHE})")
    parser.add_argument("--carry-from", nargs="+", metavar="FINGERPRINT",
                        help="take the encodes the cache holds for these older codec sources "
                        "(first named first), each once re-encoding one per network gives the "
                        "same bytes")
    parser.add_argument("--this-machine", action="store_true",
                        help="encode here the neural rows held only from other hardware (a "
                        "screen's base: an encode differs per image between CPU models)")
    parser.add_argument("--steps", type=int, help="override the presets' fitting steps")
    parser.add_argument("--seed", type=int, default=0,
                        help="every neural encode's seed: another seed is another draw of "
                        "each fit, for telling a lever's gain from fitting noise")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--jobs", type=int, help="parallel encodes (default: one per core)")
    parser.add_argument("--threads", type=int, help="torch threads per job (default: cores / jobs)")
    parser.add_argument("--quiet", action="store_true")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
