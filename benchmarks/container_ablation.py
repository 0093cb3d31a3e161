"""What a bitstream format change alone buys: the same encodes written in an older container.

    python -m benchmarks.container_ablation benchmarks/results/kodak-mini --version 1 \
        --cache benchmarks/cache --output benchmarks/results/kodak-mini/ablation/format-2

Reads an rd_curve results folder (its sasnet.json and the Pillow codecs' files) and the .sas
files its sasnet rows name in the cache, writes every file again in container version
`--version` (the same network: `encoder.repack(data, version=N)`), and reports the
codec's curve against that rewrite in rd_curve's summary form. The PSNR of each row is the
file's own; only the bytes change, so no encode runs and the comparison is exact. A file
whose network the older format cannot hold (format 3's split first layer in format 1 or 2)
stops the run with its name. Format 4's unread grid entries, which it leaves out, decode as
zero, and an older format codes those zeros.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from sasnet_codec import CodecError, bitstream
from sasnet_codec.encoder import repack

from .rd_cache import cached_file, row_from
from .rd_report import aggregate, plot, summary_markdown

PILLOW_CODECS = ("jpeg", "webp", "avif")


def rewritten(report: dict, cache: Path, dataset: str, version: int) -> dict:
    """`report` (a sasnet results file) with every row's rate that of its file rewritten in
    container `version`; refuses a row whose cached file is not the one it measured."""
    rows, places = [], {}
    for entry in report["per_image"]:
        path = cached_file(cache / dataset / report["codec_fingerprint"], entry)
        if not path.exists():
            raise SystemExit(f"{path}: not in the cache, so its row cannot be rewritten")
        data = path.read_bytes()
        try:
            container = bitstream.unpack(data)
        except CodecError as error:
            raise SystemExit(f"{path}: {error}") from None
        pixels = container.header.width * container.header.height
        row = row_from(entry)
        if row is None or abs(len(data) * 8 / pixels - row.bpp) > 1e-9:
            raise SystemExit(f"{path}: not the file its results row measured")
        try:
            older = repack(data, version)
        except ValueError as error:   # a network that only a newer format holds
            raise SystemExit(f"{path}: {error}") from None
        rows.append(replace(row, codec="older", bpp=len(older) * 8 / pixels))
        places["older", row.point, row.image] = entry["settings"]
    name = f"{report['name']}, container format {version}"
    description = f"{report['description'].split('; measured on')[0]}; files in format {version}"
    images = len({row.image for row in rows})
    return aggregate(rows, "older", images, name, description, report["codec_fingerprint"],
                     places)


def main(argv: list[str] | None = None) -> dict[str, dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="an rd_curve results folder")
    parser.add_argument("--version", type=int, required=True,
                        choices=[v for v in bitstream.READABLE_VERSIONS
                                 if v != bitstream.FORMAT_VERSION],
                        help="the container version to rewrite the files in")
    parser.add_argument("--cache", type=Path, required=True,
                        help="the rd_curve cache that made the results (its --cache)")
    parser.add_argument("--dataset", help="the run's dataset label (rd_curve's --name); by "
                        "default the results folder's name, as for committed results")
    parser.add_argument("--output", type=Path, required=True, help="folder for the comparison")
    args = parser.parse_args(argv)
    dataset = args.dataset or args.results.name
    sasnet = json.loads((args.results / "sasnet.json").read_text())
    reports = {"sasnet": sasnet,
               f"sasnet-format{args.version}": rewritten(sasnet, args.cache, dataset,
                                                         args.version)}
    reports |= {codec: json.loads((args.results / f"{codec}.json").read_text())
                for codec in PILLOW_CODECS if (args.results / f"{codec}.json").exists()}
    args.output.mkdir(parents=True, exist_ok=True)
    for codec in ("sasnet", f"sasnet-format{args.version}"):
        (args.output / f"{codec}.json").write_text(json.dumps(reports[codec], indent=1))
    settings = {"source": str(args.results), "container_version": args.version}
    summary = summary_markdown(reports, dataset, "the cache's files (no encode runs)", settings)
    (args.output / "summary.md").write_text(summary)
    plot(reports, dataset, args.output / "rd.png", with_anchors=False)
    print(summary)
    return reports


if __name__ == "__main__":
    main()
