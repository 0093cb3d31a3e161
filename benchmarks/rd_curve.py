"""Rate-distortion curves: sasnet-codec (SASNet, and the same pipeline with SIREN) against
Pillow's JPEG, WebP and AVIF on the same images, with Bjoentegaard deltas and a plot.

    python -m benchmarks.rd_curve --downscale 4            # Kodak-mini on CPU (all 24)
    python -m benchmarks.rd_curve --downscale 4 --limit 4  # a quick look
    python -m benchmarks.rd_curve --device cuda            # full-resolution Kodak on a GPU
    python -m benchmarks.rd_curve --downscale 4 --limit 8 --arch sasnet --pillow \
        --variant slope1 rd_slope=1                         # an ablation: one Recipe field off
    python -m benchmarks.rd_curve --downscale 4 --limit 2 \
        --recipe fit_steps=200                              # the pipeline, not its numbers

Rates are the sizes of real files (sasnet: .sas files written by the public API); PSNR-RGB is
averaged per image as CompressAI does; MS-SSIM comes from pytorch-msssim. Every encode's row is
cached (rd_cache), so an interrupted run continues, a changed codec is re-measured, and a
preset change re-runs only the encodes whose network or schedule it changes; the rows of the
results files in the output folder and in the dataset's committed folder count as cached, so a
fresh clone re-plots the committed results and runs only what is new. After a change to the
codec's source that should not change its output, `--carry-from OLD_FINGERPRINT [...]`
re-encodes one image per network and, when the bytes match (the older file rewritten in
today's container, so a format change that keeps the coded content carries too), carries each
older source's encodes over instead of re-running them. Every row names the machine that
measured it: the same settings give other bytes on another CPU model. Rows from another
machine re-plot results anywhere, with a note that says so; `--this-machine` encodes them
here, which a screen needs for its base. `--seed N` encodes every neural row from another
seed (the embedding's draw and the fit's initialisation and batches): a lever's gain read on
two seeds is told from fitting noise. `--recipe` changes Recipe fields for every network, and
a `--variant`'s own fields win over it.
Writes benchmarks/results/<dataset>/: one CompressAI-schema JSON per codec (each row naming
the settings and machine that made it), summary.md (BD-rates with a bootstrap interval over
the images, and the machines) and rd.png.

This module runs the encodes; what is measured is in rd_codecs, the cache in rd_cache, what is
written in rd_report.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures as futures
import contextlib
import json
import multiprocessing
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from tqdm.auto import tqdm

from sasnet_codec.device import resolve_device
from sasnet_codec.presets import QUALITY_LEVELS

from .datasets import BenchImage, dataset_label, default_folder, load_images
from .rd_cache import (CACHE, NEURAL_PLACES, adopt_results, cached_row, codec_fingerprint,
                       entry_folder, row_from, save_row)
from .rd_codecs import (CODEC_NAMES, PILLOW_POINTS, NeuralCodec, Row, measured, parse_recipe,
                        parse_variant, pillow_build, run_neural, run_pillow)
from .rd_report import aggregate, plot, summary_markdown
from .reports import RESULTS, hardware


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


def neural_codecs(args: argparse.Namespace) -> list[NeuralCodec]:
    """The networks of --arch with --recipe's fields, then each --variant on top of those."""
    common = parse_recipe(args.recipe or [], "--recipe")
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
    """A .sas file in today's container: the same network, so a format change that alters no
    coded value does not cost every encode again."""
    from sasnet_codec import CodecError
    from sasnet_codec.encoder import repack

    try:
        return repack(data)
    except CodecError:   # not a file today's decoder reads: compared as it is
        return data


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
                   + (f", recipe {' '.join(args.recipe)}" if args.recipe else "")
                   + (f", seed {args.seed}" if args.seed else ""))
    names = {**{c: CODEC_NAMES[c] for c in args.pillow}, **{k: c.name for k, c in codecs.items()}}
    reports = {codec: aggregate(rows, codec, len(images), names[codec], description, fingerprint,
                                places)
               for codec in list(codecs) + list(args.pillow)}
    for codec, report in reports.items():
        (out / f"{codec}.json").write_text(json.dumps(report, indent=1))
    settings = {"images": len(images), "downscale": args.downscale,
                "sasnet_qualities": args.qualities,
                **({"recipe": " ".join(args.recipe)} if args.recipe else {}),
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
    parser.add_argument("--recipe", nargs="+", action="extend", metavar="FIELD=VALUE",
                        help="Recipe fields changed for every network and variant, written as a "
                        "--variant's (whose own fields win), e.g. a quick look at the pipeline: "
                        "--recipe fit_steps=200")
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
