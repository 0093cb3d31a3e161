"""The benchmark scripts on two tiny images: schema and bookkeeping, not numbers."""

import hashlib
import json
import math
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from benchmarks import (container_ablation, entropy_headroom, rd_cache, rd_codecs, rd_curve,
                        rd_report, step_headroom)
from benchmarks.bd_metrics import bd_psnr, bd_rate, bd_rate_interval
from benchmarks.datasets import load_images

from sasnet_codec import DEFAULT_RECIPE, bitstream
from sasnet_codec.encoder import repack
from sasnet_codec.entropy import best_bits
from sasnet_codec.info import describe
from sasnet_codec.model import SASNet
from tests.helpers import synthetic_image, tiny_config


def short_fit(steps: int | str) -> list[str]:
    """rd_curve's arguments for a tiny encode: a few fitting steps, rounded at once, no
    fine-tune (what the tests check does not need the presets' schedule)."""
    return ["--recipe", f"fit_steps={steps}", "stage_steps=0", "finetune_steps=0"]


def short_recipe(steps: int) -> dict:
    """The Recipe overrides of `short_fit(steps)`."""
    return rd_codecs.parse_recipe(short_fit(steps)[1:], "--recipe")


def test_bd_metrics_on_known_shifts():
    bpp = np.array([0.25, 0.5, 1.0, 2.0])
    psnr = np.array([28.0, 31.0, 34.0, 37.0])
    assert abs(bd_rate(bpp, psnr, 0.8 * bpp, psnr) + 20.0) < 1e-6
    assert abs(bd_psnr(bpp, psnr, bpp, psnr + 1.5) - 1.5) < 1e-9
    assert np.isnan(bd_rate(bpp, psnr, bpp * 100, psnr + 50))   # no overlap


def test_bd_rate_interval_reflects_the_spread_over_images():
    bpp = np.array([0.25, 0.5, 1.0, 2.0])
    psnr = np.array([28.0, 31.0, 34.0, 37.0])
    anchor_bpp = np.tile(bpp, (6, 1))
    anchor_psnr = psnr + np.arange(6)[:, None]      # images of different difficulty
    # the same saving on every image: every resample agrees
    low, high = bd_rate_interval(anchor_bpp, anchor_psnr, 0.8 * anchor_bpp, anchor_psnr)
    assert abs(low + 20) < 1e-6 and abs(high + 20) < 1e-6
    # half the images save 10%, half 30%: the interval spans the full-set figure, inside both
    saving = np.where(np.arange(6) % 2, 0.9, 0.7)[:, None]
    low, high = bd_rate_interval(anchor_bpp, anchor_psnr, saving * anchor_bpp, anchor_psnr)
    full = bd_rate(anchor_bpp.mean(0), anchor_psnr.mean(0), (saving * anchor_bpp).mean(0),
                   anchor_psnr.mean(0))
    assert -30 < low < full < high < -10
    with pytest.raises(ValueError):
        bd_rate_interval(bpp, psnr, bpp, psnr)


def same_curve(report: dict, expected: dict) -> bool:
    """The same rates, PSNRs and encode times (MS-SSIM is NaN on images this small)."""
    return all(report["results"][key] == expected["results"][key]
               for key in ("bpp", "psnr-rgb", "encoding_time"))


def test_rd_curve_writes_compressai_results_and_resumes(tmp_path, monkeypatch):
    images = tmp_path / "images"
    images.mkdir()
    for seed in (0, 1):
        Image.fromarray(synthetic_image(40, 32, seed=seed)).save(images / f"im{seed}.png")
    args = ["--images", str(images), "--qualities", "1", "2", *short_fit(10), "--jobs", "1",
            "--arch", "sasnet", "--pillow", "jpeg", "--output", str(tmp_path / "out"),
            "--cache", str(tmp_path / "cache"), "--name", "tiny", "--quiet",
            "--variant", "shallow", "hidden_layers=1"]
    reports = rd_curve.main(args)
    report = json.loads((tmp_path / "out" / "sasnet.json").read_text())
    assert set(report) >= {"name", "description", "results"}
    assert set(report["results"]) == {"bpp", "psnr-rgb", "ms-ssim-rgb", "encoding_time",
                                      "decoding_time"}
    assert len(report["results"]["bpp"]) == 2 and len(report["per_image"]) == 4
    # One encode per distinct setting: at 40x32 both qualities hit the smallest network.
    bench = {image.name: image for image in load_images(images)}
    sasnet = rd_codecs.NeuralCodec("sasnet", "sasnet", short_recipe(10), "")
    shallow = rd_codecs.NeuralCodec("x", "sasnet", {**short_recipe(10), "hidden_layers": 1}, "")
    settings = {(codec.settings_key(q, image, "auto"), image.name)
                for codec in (sasnet, shallow) for q in (1, 2) for image in bench.values()}
    sas_files = list((tmp_path / "cache").rglob("*.sas"))
    assert len(sas_files) == len(settings) >= 4
    for row in report["per_image"]:
        key = sasnet.settings_key(row["point"], bench[row["image"]], "auto")
        coded = [f for f in sas_files if f.stem == row["image"] and f.parent.parent.name == key]
        assert len(coded) == 1
        assert row["bpp"] == coded[0].stat().st_size * 8 / (40 * 32)   # rate = bytes on disk
    assert (tmp_path / "out" / "summary.md").exists() and (tmp_path / "out" / "rd.png").exists()
    assert len(reports["jpeg"]["results"]["bpp"]) == len(rd_codecs.PILLOW_POINTS["jpeg"])
    # The bootstrap's per-image curves average back to the published means.
    jpeg_bpp, jpeg_psnr, ours_bpp, ours_psnr = rd_report.per_image_curves(reports["jpeg"],
                                                                          reports["sasnet"])
    assert jpeg_bpp.shape == (2, len(rd_codecs.PILLOW_POINTS["jpeg"])) and ours_psnr.shape == (2, 2)
    assert np.allclose(ours_bpp.mean(0), report["results"]["bpp"])
    assert np.allclose(jpeg_psnr.mean(0), reports["jpeg"]["results"]["psnr-rgb"])
    # The variant is its own codec: own results file and a row in the summary.
    variant = json.loads((tmp_path / "out" / "sasnet-shallow.json").read_text())
    assert "hidden_layers=1" in variant["name"] and len(variant["per_image"]) == 4
    assert variant["results"]["bpp"] != report["results"]["bpp"]
    assert variant["name"] in (tmp_path / "out" / "summary.md").read_text()
    # A second run finds everything cached and reproduces the same numbers, also for a variant
    # whose recipe builds the codec's own settings (its encodes are the codec's, not re-run).
    again = rd_curve.main(args + ["--variant", "twin", "mask_share=0.1"])
    assert len(list((tmp_path / "cache").rglob("*.sas"))) == len(sas_files)
    assert same_curve(again["sasnet"], reports["sasnet"])
    assert same_curve(again["sasnet-twin"], reports["sasnet"])
    # A fresh clone has the results files but no cache: their rows stand in for it, and an
    # encode whose settings no results file holds (a new variant) still runs.
    fresh = [a if a != str(tmp_path / "cache") else str(tmp_path / "fresh") for a in args]
    cloned = rd_curve.main(fresh + ["--variant", "wide", "mask_share=0.3"])
    assert all(same_curve(cloned[codec], reports[codec]) for codec in ("sasnet", "jpeg"))
    ran = {f.parent.parent.name for f in (tmp_path / "fresh").rglob("*.sas")}
    cache_rows = [{p.relative_to(tmp_path / name) for p in (tmp_path / name).rglob("*.json")}
                  for name in ("cache", "fresh")]
    assert cache_rows[0] < cache_rows[1]   # the reused rows join the new cache
    wide = rd_codecs.NeuralCodec("w", "sasnet", {**short_recipe(10), "mask_share": 0.3}, "")
    assert ran == {wide.settings_key(q, image, "auto") for q in (1, 2)
                   for image in bench.values()} - {key for key, _ in settings}
    # A screen written to its own folder, with no cache, takes its baseline from the dataset's
    # committed results: nothing is encoded again.
    shutil.copytree(tmp_path / "out", tmp_path / "published" / "tiny")
    monkeypatch.setattr(rd_curve, "RESULTS", tmp_path / "published")
    screen = [str(tmp_path / "screen") if a == str(tmp_path / "out") else
              str(tmp_path / "empty") if a == str(tmp_path / "cache") else a for a in args]
    screened = rd_curve.main(screen)
    assert not list((tmp_path / "empty").rglob("*.sas"))
    assert all(same_curve(screened[codec], reports[codec])
               for codec in ("sasnet", "sasnet-shallow"))
    # --seed draws every fit anew: its own settings, so its own encodes, and other numbers.
    seeded = rd_codecs.NeuralCodec("sasnet", "sasnet", short_recipe(10), "", seed=1)
    config = seeded.config(1, bench["im0"], "auto")
    assert config.model.seed == config.fit.seed == 1
    # A one-point screen (here quality 1 alone) has no curve: its summary says so, not NaN.
    reseeded = rd_curve.main(screen + ["--seed", "1", "--qualities", "1"])
    assert "seed 1" in reseeded["sasnet"]["description"]
    seeded_shallow = replace(seeded, recipe={**seeded.recipe, "hidden_layers": 1})
    assert len(list((tmp_path / "empty").rglob("*.sas"))) == len(
        {(codec.settings_key(1, image, "auto"), image.name)
         for codec in (seeded, seeded_shallow) for image in bench.values()})
    first = reports["sasnet"]["results"]["psnr-rgb"][:1]
    assert reseeded["sasnet"]["results"]["psnr-rgb"] != first
    summary = (tmp_path / "screen" / "summary.md").read_text()
    assert "nan%" not in summary and "benchmarks.equal_rate" in summary


def test_pillow_rows_outlive_a_change_to_the_codec_source(tmp_path, monkeypatch):
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(synthetic_image(24, 16)).save(images / "im.png")
    monkeypatch.setattr(rd_curve, "RESULTS", tmp_path / "published")
    args = ["--images", str(images), "--qualities", "1", *short_fit(5), "--jobs", "1",
            "--arch", "sasnet", "--pillow", "jpeg", "--cache", str(tmp_path / "cache"),
            "--name", "tiny", "--quiet"]
    first = rd_curve.main(args + ["--output", str(tmp_path / "first")])

    def refuse(*task):
        raise AssertionError(f"Pillow encoded again: {task}")

    # A new source: the neural rows are measured again, Pillow's come from the cache alone ...
    monkeypatch.setattr(rd_curve, "codec_fingerprint", lambda: "0123456789ab")
    monkeypatch.setattr(rd_curve, "run_pillow", refuse)
    again = rd_curve.main(args + ["--output", str(tmp_path / "again")])
    assert same_curve(again["jpeg"], first["jpeg"])
    assert len(list((tmp_path / "cache").rglob("*.sas"))) == 2
    # ... or, without a cache, from a results file that another source wrote; its neural rows
    # are not taken (nothing could check them), so they are encoded.
    monkeypatch.setattr(rd_curve, "codec_fingerprint", lambda: "ba9876543210")
    fresh = [str(tmp_path / "fresh") if a == str(tmp_path / "cache") else a for a in args]
    rd_curve.main(fresh + ["--output", str(tmp_path / "first")])
    assert len(list((tmp_path / "fresh").rglob("*.sas"))) == 1


def test_carry_from_takes_an_older_source_encodes_only_after_a_byte_identical_check(
        tmp_path, monkeypatch):
    images = tmp_path / "images"
    images.mkdir()
    for seed in (0, 1):
        Image.fromarray(synthetic_image(24, 16, seed=seed)).save(images / f"im{seed}.png")
    args = ["--images", str(images), "--qualities", "1", *short_fit(5), "--jobs", "1",
            "--arch", "sasnet", "siren", "--pillow", "--output", str(tmp_path / "out"),
            "--cache", str(tmp_path / "cache"), "--name", "tiny", "--quiet"]
    before = rd_curve.main(args)
    old = rd_cache.codec_fingerprint()
    old_files = sorted(p.relative_to(tmp_path / "cache" / "tiny" / old)
                       for p in (tmp_path / "cache" / "tiny" / old).rglob("*.sas"))
    (tmp_path / "out" / "sasnet.json").unlink()   # results files are adopted by source too
    (tmp_path / "out" / "siren.json").unlink()
    for path in (tmp_path / "cache" / "tiny" / old).rglob("im1.sas"):
        path.unlink()     # a row without its file (adopted from results): carried, not checked
    old_files = [f for f in old_files if f.name != "im1.sas"]
    for row in list((tmp_path / "cache" / "tiny" / old).rglob("im0.json")):
        if json.loads(row.read_text())["codec"] == "siren":   # made by a still older source
            place = row.parents[1]   # encodes/<settings>, holding one folder per machine
            older = tmp_path / "cache" / "tiny" / "older" / place.relative_to(place.parents[1])
            shutil.move(place, older)
    assert len(list((tmp_path / "cache" / "tiny" / "older").rglob("*.sas"))) == 1
    sas_row = next(path.with_suffix(".json") for path in (tmp_path / "cache" / "tiny" / old)
                   .rglob("im0.sas"))
    stale = json.loads(sas_row.read_text())
    sas_row.write_text(json.dumps({**stale, "psnr": 99.0}))   # as an older decoder measured
    monkeypatch.setattr(rd_curve, "codec_fingerprint", lambda: "changed")
    encodes = []
    real = rd_curve.run_neural
    monkeypatch.setattr(rd_curve, "run_neural", lambda *a: encodes.append(a) or real(*a))
    after = rd_curve.main(args + ["--carry-from", old, "older"])
    assert len(encodes) == 2          # the checks (one per network); the rest is carried
    new_root = tmp_path / "cache" / "tiny" / "changed"
    assert sorted(p.relative_to(new_root) for p in new_root.rglob("*.sas")) == old_files
    for codec in ("sasnet", "siren"):
        assert after[codec]["results"]["bpp"] == before[codec]["results"]["bpp"]
        # a carried file is decoded again: the stale PSNR is measured anew
        assert after[codec]["results"]["psnr-rgb"] == before[codec]["results"]["psnr-rgb"]
    # An older encode that differs from what the code makes now is refused, nothing carried.
    sas = next((tmp_path / "cache" / "tiny" / old).rglob("*.sas"))
    sas.write_bytes(sas.read_bytes()[:-1] + bytes([sas.read_bytes()[-1] ^ 1]))
    for path in (tmp_path / "cache" / "tiny" / old).rglob("*.sas"):
        if path != sas:
            path.unlink()       # only the tampered encode is left to check and carry
    monkeypatch.setattr(rd_curve, "codec_fingerprint", lambda: "changed-again")
    with pytest.raises(SystemExit, match="other bytes"):
        rd_curve.main(args + ["--carry-from", old])
    assert not list((tmp_path / "cache" / "tiny" / "changed-again").rglob("*.sas"))


def test_carry_from_rewrites_an_older_format_and_re_encodes_rows_it_cannot(tmp_path,
                                                                           monkeypatch):
    """Encodes cached in format 1 carry once a fresh encode equals them in today's container
    (the format that holds the network in the fewest bytes); a row without its file cannot be
    rewritten, so it is encoded again."""
    images = tmp_path / "images"
    images.mkdir()
    for seed in (0, 1):
        Image.fromarray(synthetic_image(24, 16, seed=seed)).save(images / f"im{seed}.png")
    args = ["--images", str(images), "--qualities", "1", *short_fit(5),
            "split_first_hidden=0", "--jobs", "1",
            "--arch", "sasnet", "--output", str(tmp_path / "out"),
            "--cache", str(tmp_path / "cache"), "--name", "tiny", "--quiet"]
    before = rd_curve.main(args)
    old = tmp_path / "cache" / "tiny" / rd_cache.codec_fingerprint()
    for path in old.rglob("*.sas"):
        path.write_bytes(repack(path.read_bytes(), version=1))
    next(old.rglob("im1.sas")).unlink()
    (tmp_path / "out" / "sasnet.json").unlink()
    monkeypatch.setattr(rd_curve, "codec_fingerprint", lambda: "a-newer-codec")
    after = rd_curve.main(args + ["--carry-from", old.name])
    new = tmp_path / "cache" / "tiny" / "a-newer-codec"
    for name in ("im0", "im1"):   # carried and rewritten; encoded again (a carried row
        data = next(new.rglob(f"{name}.sas")).read_bytes()   # without its file has none)
        assert bitstream.version_of(data) > 1 and repack(data) == data   # today's choice
    for metric in ("bpp", "psnr-rgb"):
        assert after["sasnet"]["results"][metric] == before["sasnet"]["results"][metric]


RUN_THAT_IS_KILLED = """
import concurrent.futures, multiprocessing, os, time
from benchmarks import rd_curve
if __name__ == "__main__":
    context = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(1, context, rd_curve._worker_init, (1,))
    print(pool.submit(os.getpid).result(), flush=True)
    pool.submit(time.sleep, 120)
    time.sleep(120)
"""


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for a reaper (as under a container's init)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_encode_workers_end_when_the_run_is_killed():
    run = subprocess.Popen([sys.executable, "-c", RUN_THAT_IS_KILLED], text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           cwd=Path(rd_curve.__file__).parents[1])
    try:
        worker = int(run.stdout.readline())
        assert _running(worker)
        run.kill()                     # no handler runs: the worker has to notice by itself
        run.wait()
        deadline = time.monotonic() + 30
        while _running(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _running(worker)
    finally:
        run.kill()


def test_variant_parsing_broadcasts_per_quality_fields_and_refuses_bad_ones():
    label, recipe = rd_codecs.parse_variant(["coarse", "rd_slope=2", "fit_steps=300"])
    assert label == "coarse" and recipe == {"rd_slope": (2.0,) * 8, "fit_steps": (300,) * 8}
    _, recipe = rd_codecs.parse_variant(["x", "rd_slope=1/1/1/1/2/2/2/2"])
    assert recipe["rd_slope"] == (1.0,) * 4 + (2.0,) * 4
    _, recipe = rd_codecs.parse_variant(["x", "stage_last_hidden=0/0/0/0/true/0/0/False"])
    assert recipe["stage_last_hidden"] == (False,) * 4 + (True,) + (False,) * 3
    for bad in (["x", "omega=3"], ["x", "rd_slope=1/2"], ["x", "grid_share=2"],
                ["x", "fit_steps=1.5"], ["x", "stage_last_hidden=yes"]):
        try:
            rd_codecs.parse_variant(bad)
        except SystemExit:
            continue
        raise AssertionError(f"{bad} was accepted")


def older_settings(tmp_path) -> tuple:
    """A codec whose every added setting is at its neutral value (the code before them), its
    image, recipe overrides, and its settings as the older code held them (none of those)."""
    Image.fromarray(synthetic_image(40, 32, seed=0)).save(tmp_path / "im0.png")
    image = load_images(tmp_path)[0]
    older = {}
    for (_, name), neutral in rd_codecs.ADDED_SETTINGS.items():
        older.update(recipe_everywhere(name, neutral))
    codec = rd_codecs.NeuralCodec("x", "sasnet", older, "")
    settings = asdict(codec.config(5, image, "cpu"))
    for (section, name), neutral in rd_codecs.ADDED_SETTINGS.items():
        assert settings[section].pop(name) == neutral
    return codec, image, older, settings


def recipe_everywhere(name: str, value: object) -> dict:
    """The Recipe override that sets `name` to `value` at every quality."""
    per_quality = isinstance(getattr(DEFAULT_RECIPE, name), tuple)
    return {name: (value,) * 8 if per_quality else value}


def settings_hash(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def test_rows_name_their_machine_and_this_machine_re_encodes_the_others(tmp_path, monkeypatch,
                                                                        capsys):
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(synthetic_image(24, 16, seed=0)).save(images / "im0.png")
    args = ["--images", str(images), "--qualities", "1", *short_fit(5), "--jobs", "1",
            "--arch", "sasnet", "--pillow", "jpeg", "--output", str(tmp_path / "out"),
            "--cache", str(tmp_path / "cache"), "--name", "tiny", "--quiet"]

    def run_on(machine: str, *extra: str) -> tuple[dict, str]:
        monkeypatch.setattr(rd_curve, "hardware", lambda device: f"{machine}, 2 cores visible")
        capsys.readouterr()
        return rd_curve.main(args + list(extra)), capsys.readouterr().out

    first, printed = run_on("CPU A")
    assert "8 encodes, 8 to run" in printed      # JPEG's seven points and one neural encode
    assert {row["hardware"] for row in first["sasnet"]["per_image"]} == {"CPU A, 2 cores visible"}
    assert first["sasnet"]["description"].endswith("measured on CPU A, 2 cores visible (1 rows)")
    # Another CPU model re-plots them, and says the neural rows are not its own.
    again, printed = run_on("CPU B")
    assert "0 to run" in printed and same_curve(again["sasnet"], first["sasnet"])
    assert "note: 1 neural rows were encoded on other hardware" in printed
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "Run on CPU B" in summary and "- CPU A, 2 cores visible: sasnet 1; jpeg 10" in summary
    # --this-machine encodes the neural rows here, beside the other machine's; Pillow's bytes
    # do not depend on the CPU, so its rows stay.
    mine, printed = run_on("CPU B", "--this-machine")
    assert "1 to run" in printed and "note:" not in printed
    assert {row["hardware"] for row in mine["sasnet"]["per_image"]} == {"CPU B, 2 cores visible"}
    assert same_curve(mine["jpeg"], again["jpeg"])
    assert {row["hardware"] for row in mine["jpeg"]["per_image"]} == {"CPU A, 2 cores visible"}
    machines = {p.parent.name for p in (tmp_path / "cache").rglob("im0.sas")}
    assert machines == {"CPU-A-2-cores-visible", "CPU-B-2-cores-visible"}
    # A row of an older rd_curve (no machine named) is measured again, not guessed.
    for path in (tmp_path / "cache").rglob("im0.json"):
        path.write_text(json.dumps({k: v for k, v in json.loads(path.read_text()).items()
                                    if k != "hardware"}))
    shutil.rmtree(tmp_path / "out")
    _, printed = run_on("CPU B")
    assert "8 to run" in printed


def test_a_setting_added_later_keeps_the_older_keys_at_its_neutral_value(tmp_path):
    """Encodes made before a setting existed stay cached for configs that do not use it."""
    codec, image, older, settings = older_settings(tmp_path)
    for (section, name), value in rd_codecs.RETIRED_SETTINGS.items():
        settings[section][name] = value
    before = settings_hash(settings)
    assert codec.settings_key(5, image, "cpu") == before
    for (_, name), neutral in rd_codecs.ADDED_SETTINGS.items():
        # another valid value: the float settings are all shares or decays in [0, 1)
        changed = (not neutral if isinstance(neutral, bool)
                   else (neutral + 0.5) % 1 if isinstance(neutral, float) else neutral + 1)
        other = rd_codecs.NeuralCodec("y", "sasnet", {**older, **recipe_everywhere(name, changed)},
                                      "")
        assert other.settings_key(5, image, "cpu") != before


def test_a_retired_setting_keeps_the_older_keys_at_the_value_they_held(tmp_path):
    """Encodes made while a setting existed stay cached after it is removed."""
    codec, image, _, settings = older_settings(tmp_path)
    for (section, name), value in rd_codecs.RETIRED_SETTINGS.items():
        assert name not in settings[section]
        settings[section][name] = value
    assert codec.settings_key(5, image, "cpu") == settings_hash(settings)


def test_a_variant_runs_on_every_network_asked_for_on_top_of_the_common_recipe():
    """A preset change is measured on SASNet and SIREN alike, each with its own label; --recipe
    changes every network, a variant's own fields win over it."""
    import argparse
    args = argparse.Namespace(arch=["sasnet", "siren"], recipe=None, seed=0,
                              variant=[["finer", "batch_fraction=0.25"]])
    codecs = {codec.key: codec for codec in rd_curve.neural_codecs(args)}
    assert set(codecs) == {"sasnet", "siren", "sasnet-finer", "siren-finer"}
    assert codecs["siren-finer"].arch == "siren"
    assert codecs["siren-finer"].recipe == {"batch_fraction": (0.25,) * 8}
    args.recipe = ["fit_steps=7", "batch_fraction=0.5"]
    codecs = {codec.key: codec for codec in rd_curve.neural_codecs(args)}
    assert codecs["sasnet"].recipe == {"fit_steps": (7,) * 8, "batch_fraction": (0.5,) * 8}
    assert codecs["siren-finer"].recipe == {"fit_steps": (7,) * 8, "batch_fraction": (0.25,) * 8}
    args.recipe = ["fit_steps=many"]
    with pytest.raises(SystemExit, match="^--recipe: 'many' is not int"):
        rd_curve.neural_codecs(args)


def test_speed_benchmark_file_is_a_default_network_that_decodes_at_its_size():
    from benchmarks import speed
    import sasnet_codec as sc

    data = speed.default_network_file(64, 48)
    header, _ = sc.decode_model(data)
    assert header.model == sc.encoder_config(64, 48, 3).model
    assert sc.decode(data).shape == (48, 64, 3)


def test_speed_benchmark_encodes_in_passes_over_the_images(tmp_path, monkeypatch):
    """Each pass visits every image once, so a drift in the machine's speed reaches them all."""
    from benchmarks import speed

    for seed in (0, 1):
        Image.fromarray(synthetic_image(32, 32, seed=seed)).save(tmp_path / f"im{seed}.png")
    order = []
    monkeypatch.setattr(speed.sc, "encode", lambda pixels, config, progress: order.append(
        int(pixels.sum())))
    seconds = speed.encode_seconds(tmp_path, 2, "cpu", passes=3)
    assert list(seconds) == ["im0", "im1"] and all(len(t) == 3 for t in seconds.values())
    assert order[:2] != order[:2][::-1] and order == order[:2] * 3


def test_equal_rate_compares_each_image_against_its_own_curve(tmp_path):
    from benchmarks import equal_rate

    def report(rows):
        return {"per_image": [{"image": image, "point": point, "bpp": bpp, "psnr": psnr,
                               "hardware": "CPU A"} for image, point, bpp, psnr in rows]}

    base = report([("a", 1, 0.5, 30.0), ("a", 3, 1.0, 32.0),
                   ("b", 1, 0.5, 20.0), ("b", 3, 1.0, 22.0)])
    # a: the same rates 0.5 dB better; b: twice the rate at point 3, one step along its curve
    test = report([("a", 1, 0.5, 30.5), ("a", 3, 1.0, 32.5),
                   ("b", 1, 0.5, 19.8), ("b", 3, 2.0, 24.0)])
    test["per_image"][3]["hardware"] = "CPU B"
    result = equal_rate.compare(test, base)
    assert result[1]["images_better"] == 1 and result[1]["images"] == 2
    assert result[1]["images_on_other_machines"] == 0
    assert result[3]["images_on_other_machines"] == 1
    assert result[1]["equal_rate_gain_db"] == pytest.approx((0.5 - 0.2) / 2)
    assert result[3]["equal_rate_gain_db"] == pytest.approx(0.25)   # b's 24 dB is on its line
    assert result[3]["rate_change_percent"] == pytest.approx(50.0)
    assert equal_rate.psnr_at_rate({1: (0.5, 30.0), 3: (1.0, 32.0)}, 0.25) == pytest.approx(28.0)
    one_point = report([("a", 1, 0.5, 30.0), ("a", 3, 1.0, 32.0), ("b", 1, 0.5, 20.0)])
    with pytest.raises(ValueError, match=r"curve for b has points \[1\]"):
        equal_rate.compare(test, one_point)
    # --neighbours: b's missing point comes from another file; the base's own rows are kept
    around = report([("b", 1, 0.4, 0.0), ("b", 3, 1.0, 22.0)])
    assert equal_rate.compare(test, equal_rate.with_neighbours(one_point, around)) == result
    files = {}
    for name, data in (("test", test), ("base", one_point), ("around", around)):
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(json.dumps(data))
    assert equal_rate.main([str(files["test"]), str(files["base"]),
                            "--neighbours", str(files["around"])]) == result
    for bad in ([str(files["test"]), str(files["base"])],        # one point, no --neighbours
                [str(files["test"]), str(tmp_path / "missing.json")]):
        with pytest.raises(SystemExit):                         # a usage error, no traceback
            equal_rate.main(bad)


def test_entropy_headroom_charges_side_information_and_reads_an_rd_run(tmp_path, capsys):
    rng = np.random.default_rng(0)
    iid = np.round(rng.laplace(0, 6, 4000)).astype(np.int32)
    mixed = np.concatenate([iid[:2000] // 6, iid[2000:] * 4])
    # Splitting one Laplace's symbols only adds side information; two scales pay for it.
    assert entropy_headroom.split_bits(np.split(iid, 2)) > best_bits(iid)
    assert entropy_headroom.split_bits(np.split(mixed, 2)) < best_bits(mixed) - 500

    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(synthetic_image(40, 32, seed=0)).save(images / "im0.png")
    rd_curve.main(["--images", str(images), "--qualities", "3", *short_fit(10), "--jobs", "1",
                   "--arch", "sasnet", "--pillow", "--output", str(tmp_path / "out"),
                   "--cache", str(tmp_path / "cache"), "--name", "tiny", "--quiet"])
    capsys.readouterr()
    entropy_headroom.main([str(tmp_path / "out" / "sasnet.json"), "--cache",
                           str(tmp_path / "cache"), "--dataset", "tiny"])
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("rate point 3: 1 files") for line in lines)
    shares = [float(line.split()[1].rstrip("%")) for line in lines
              if line.startswith("  ") and line.split()[1].endswith("%")]
    coded = next((tmp_path / "cache").rglob("*.sas")).read_bytes()
    payload_share = 100 * describe(coded)["payload_bytes"] / len(coded)
    assert sum(shares) == pytest.approx(payload_share, abs=1.0)   # every section, none twice
    # The same run's files, read by the step-allocation tool: one line per sine weight matrix.
    step_headroom.main([str(tmp_path / "out" / "sasnet.json"), "--cache", str(tmp_path / "cache"),
                        "--dataset", "tiny"])
    lines = capsys.readouterr().out.splitlines()
    table = {line.split()[0]: line.split()[1:] for line in lines if line.startswith("  ")}
    assert set(table) == {"tensor", "hidden0.weight", "hidden1.weight", "output.weight"}
    assert table["hidden0.weight"][-1].endswith("%") and table["hidden1.weight"][-1] == "-"



def test_step_allocation_gain_and_sensitivities_measure_what_they_say():
    # equal sensitivities: one step is best; 1 and 4 (one weight each): 0.5 log2(2.5^2 / 4)
    assert step_headroom.allocation_gain([3.0, 3.0, 3.0]) == 0.0
    assert step_headroom.allocation_gain([1.0, 4.0]) == pytest.approx(math.log2(2.5 ** 2 / 4) / 2)
    # groups are weighted by their weights: two weights of 1 each equal one group of sum 2
    assert step_headroom.allocation_gain([2.0, 4.0], [2, 1]) == pytest.approx(
        step_headroom.allocation_gain([1.0, 1.0, 4.0]))
    assert step_headroom.allocation_gain([0.0, 1.0]) == math.inf
    # The Gauss-Newton diagonal, against each pixel's own gradient summed by brute force.
    torch.manual_seed(0)
    model = SASNet(tiny_config().model)
    coords = torch.rand(6, 2) * 2 - 1
    measured = step_headroom.sensitivities(model, coords)
    names = {"hidden0.weight": model.hidden[0].weight, "hidden1.weight": model.hidden[1].weight,
             "output.weight": model.output.weight}
    for name, weight in names.items():
        expected = torch.zeros_like(weight)
        for pixel in coords:
            for channel in range(3):
                gradient, = torch.autograd.grad(model(pixel[None])[0, channel], weight)
                expected += gradient ** 2
        assert np.allclose(measured[name], expected.numpy(), rtol=1e-4, atol=1e-10), name
    # a first hidden layer held in two parts is read as the matrix it is
    split = SASNet(tiny_config().model.replace(split_first_hidden=1))
    for name, values in step_headroom.sensitivities(split, coords).items():
        assert np.allclose(values, measured[name], rtol=1e-5, atol=1e-12), name

def test_container_ablation_rewrites_each_cached_file_and_refuses_a_stranger(tmp_path):
    """The same encodes in format 1: larger files, the same PSNR, a BD row against them; a
    cached file that is not the one its row measured stops the comparison."""
    images = tmp_path / "images"
    images.mkdir()
    for seed in (0, 1):
        Image.fromarray(synthetic_image(24, 16, seed=seed)).save(images / f"im{seed}.png")
    # quality 5 fits longer: two points of one rate would make no curve to take a BD row of
    # and both keep their first hidden layer whole, which format 1 can hold
    rd_curve.main(["--images", str(images), "--qualities", "1", "5", *short_fit("5/5/5/5/60/5/5/5"),
                   "split_first_hidden=0", "--jobs", "1", "--arch", "sasnet", "--pillow", "jpeg",
                   "--output", str(tmp_path / "run"), "--cache", str(tmp_path / "cache"),
                   "--name", "tiny", "--quiet"])
    args = [str(tmp_path / "run"), "--version", "1", "--cache", str(tmp_path / "cache"),
            "--dataset", "tiny", "--output", str(tmp_path / "ablation")]
    reports = container_ablation.main(args)
    today, older = reports["sasnet"], reports["sasnet-format1"]
    for new, old in zip(today["per_image"], older["per_image"]):
        assert (new["image"], new["point"], new["psnr"]) == (old["image"], old["point"],
                                                              old["psnr"])
        assert old["bpp"] > new["bpp"]
    summary = (tmp_path / "ablation" / "summary.md").read_text()
    rows = {line.split(" | ")[0]: line for line in summary.splitlines() if line.startswith("| ")}
    assert "%" in next(row for name, row in rows.items() if name.endswith("container format 1"))
    assert "| JPEG (Pillow)" in rows   # (tiny fits and JPEG share no PSNR range: no number)
    written = json.loads((tmp_path / "ablation" / "sasnet-format1.json").read_text())
    assert written["results"]["bpp"] == older["results"]["bpp"]
    root = tmp_path / "cache" / "tiny" / today["codec_fingerprint"]
    coded = rd_cache.cached_file(root, today["per_image"][0])
    coded.write_bytes(repack(coded.read_bytes(), version=1))   # readable, not the row's file
    with pytest.raises(SystemExit, match="not the file its results row measured"):
        container_ablation.main(args)
