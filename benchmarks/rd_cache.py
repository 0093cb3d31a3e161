"""The per-image results cache of benchmarks.rd_curve, under one folder per codec source: its
fingerprint hashes every sasnet_codec module but presets.py, so a source change re-measures
the neural encodes while a preset change reaches the cache only through the settings. A
neural row's place is the hash of its full encoder settings (`settings_key` of rd_codecs'
NeuralCodec), and its folder also names the machine that made it, for the same settings give
other bytes on another CPU model; a Pillow row's place names the Pillow build and sits beside
the sources' folders, since neither our source nor the CPU changes its bytes. Results files
count as cache too (`adopt_results`): their rows name their places, and a neural row is taken
only where the same source made it."""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, fields
from pathlib import Path

from .rd_codecs import Row


ROOT = Path(__file__).resolve().parent
CACHE = ROOT / "cache"


def codec_fingerprint() -> str:
    """Hash of the source that turns encoder settings into bytes: every module but presets.py,
    which only chooses the settings (and reaches the cache through them)."""
    digest = hashlib.sha256()
    package = ROOT.parent / "sasnet_codec"
    for path in sorted(package.rglob("*.py")):
        if path.name == "presets.py":
            continue
        digest.update(path.relative_to(package).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()[:12]


NEURAL_PLACES = "encodes/"
"""The cache places of neural encodes (a Pillow codec's are named after its build)."""


def is_neural(place: str) -> bool:
    """Whether a cache place holds neural encodes (kept per codec source and machine)."""
    return place.startswith(NEURAL_PLACES)


def machine_folder(machine: str) -> str:
    """A machine's `reports.hardware()` description as a folder name."""
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


def add_cached_files_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments that name a results file's .sas files (`cached_files_per_point`)."""
    parser.add_argument("results", type=Path, help="an rd_curve results file (sasnet.json)")
    parser.add_argument("--cache", type=Path, required=True,
                        help="the rd_curve cache that made it (its --cache)")
    parser.add_argument("--dataset", help="the run's dataset label (rd_curve's --name); by "
                        "default the results file's folder name, as for committed results")


def cached_files_per_point(args: argparse.Namespace) -> Iterator[tuple[float, list[Path]]]:
    """Each rate point of the results file with its rows' .sas files, for the tools that read
    them; a point with files missing from the cache is skipped with a line that says so."""
    report = json.loads(args.results.read_text())
    dataset = args.dataset or args.results.parent.name
    root = args.cache / dataset / report["codec_fingerprint"]
    by_point: dict[float, list[Path]] = defaultdict(list)
    for row in report["per_image"]:
        by_point[row["point"]].append(cached_file(root, row))
    for point, paths in sorted(by_point.items()):
        if missing := [path for path in paths if not path.exists()]:
            print(f"\nrate point {point}: skipped, {len(missing)} of its files are not in the "
                  f"cache (e.g. {missing[0]})")
        else:
            yield point, paths


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
