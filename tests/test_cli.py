"""The command line through main(argv), as a user would run it."""

import json
from pathlib import Path

import pytest
from PIL import Image

from cli.main import main

from tests.helpers import synthetic_image


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    Image.fromarray(synthetic_image(24, 16)).save(folder / "in.png")
    (folder / "notes.txt").write_text("not an image")
    code = main(["encode", str(folder / "in.png"), str(folder / "out.sas"), "--steps", "40",
                 "--quality", "2", "--quiet"])
    assert code == 0
    return folder


def test_encode_writes_a_file_and_reports(files, capsys):
    code = main(["encode", str(files / "in.png"), str(files / "again.sas"), "--steps", "20",
                 "--quality", "1", "--seed", "3", "--device", "cpu"])
    assert code == 0
    out = capsys.readouterr().out
    assert "bpp" in out and "dB" in out and (files / "again.sas").stat().st_size > 0


def test_decode_default_output_and_sizes(files):
    assert main(["decode", str(files / "out.sas"), "--quiet"]) == 0
    assert Image.open(files / "out.png").size == (24, 16)
    assert main(["decode", str(files / "out.sas"), "-o", str(files / "w.png"),
                 "--width", "48"]) == 0
    assert Image.open(files / "w.png").size == (48, 32)
    assert main(["decode", str(files / "out.sas"), "-o", str(files / "s.webp"),
                 "--scale", "0.5"]) == 0
    assert Image.open(files / "s.webp").size == (12, 8)


def test_info_text_and_json(files, capsys):
    assert main(["info", str(files / "out.sas")]) == 0
    text = capsys.readouterr().out
    assert "version 5" in text
    assert "grid.table" in text and " coded)" in text.split("grid.table")[1].splitlines()[0]
    assert main(["info", str(files / "out.sas"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["width"] == 24 and summary["file_bytes"] == (files / "out.sas").stat().st_size
    assert summary["header_bytes"] + summary["payload_bytes"] == summary["file_bytes"]
    assert len(summary["sections"]) == 12
    older = Path(__file__).parent / "data" / "reference-v1.sas"   # format 1: still described
    assert main(["info", str(older), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["format_version"] == 1 and summary["header_bytes"] == 55
    assert summary["header_bytes"] + summary["payload_bytes"] == older.stat().st_size


@pytest.mark.parametrize("args,message", [
    (["decode", "{d}/missing.sas"], "does not exist"),
    (["decode", "{d}/in.png", "-o", "{d}/x.png"], "not a .sas file"),
    (["decode", "{d}/in.png"], "input file"),
    (["decode", "{d}/out.sas", "-o", "{d}/nofolder/x.png"], "does not exist"),
    (["decode", "{d}/out.sas", "-o", "{d}/x.unknown"], "unknown output format"),
    (["decode", "{d}/out.sas", "-o", "{d}/out.sas"], "input file"),
    (["encode", "{d}/notes.txt", "{d}/y.sas"], "not a readable image"),
    (["encode", "{d}/missing.png", "{d}/y.sas"], "does not exist"),
    (["encode", "{d}/in.png", "{d}/in.png"], "input file"),
    (["info", "{d}/in.png"], "not a .sas file"),
])
def test_errors_are_one_line_with_nonzero_exit(files, capsys, args, message):
    before = {p.name: p.read_bytes() for p in files.iterdir() if p.is_file()}
    code = main([a.format(d=files) for a in args])
    err = capsys.readouterr().err
    assert code != 0
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    after = {p.name: p.read_bytes() for p in files.iterdir() if p.is_file()}
    assert after == before, "an error must not create, change or leave any file"


def test_usage_errors_exit_2(capsys):
    assert main(["encode"]) == 2
    assert main(["decode", "x.sas", "--scale", "-1"]) == 2
    assert main(["--help"]) == 0
    assert "encode" in capsys.readouterr().out


@pytest.mark.parametrize("args", [
    ["decode", "{d}/out.sas", "-o", "{d}/inf.png", "--scale", "inf"],
    ["decode", "{d}/out.sas", "-o", "{d}/wide.gif", "--width", "70000", "--height", "1"],
    ["decode", ""],
    ["encode", "{d}/in.png", "{d}/inf.sas", "--bpp", "inf"],
    ["encode", "{d}/in.png", "{d}/nan.sas", "--bpp", "nan"],
    ["encode", "{d}/in.png", "{d}/nofolder/x.sas"],
])
def test_odd_numbers_and_paths_are_one_line_errors(files, capsys, args):
    before = sorted(p.name for p in files.iterdir())
    code = main([a.format(d=files) for a in args])
    err = capsys.readouterr().err
    assert code != 0 and err.count("\n") == 1 and "Traceback" not in err
    assert sorted(p.name for p in files.iterdir()) == before


def test_output_files_get_ordinary_permissions(files):
    import os
    import stat

    assert main(["decode", str(files / "out.sas"), "-o", str(files / "perm.png"), "--quiet"]) == 0
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE((files / "perm.png").stat().st_mode) == 0o666 & ~umask
