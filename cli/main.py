"""sasnet-codec encode | decode | info | demo."""

from __future__ import annotations

import json
import math
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

import click

import sasnet_codec as sc
from sasnet_codec.bitstream import DEFAULT_MAX_PIXELS
from sasnet_codec.config import ARCHITECTURES
from sasnet_codec.files import read_input_file
from sasnet_codec.info import describe

EXIT_USAGE, EXIT_CODEC, EXIT_INTERRUPTED = 2, 1, 130


def _report(result: sc.EncodeResult, path: str) -> str:
    return (f"{path}: {len(result.data)} bytes, {result.bpp:.4f} bpp, {result.psnr:.2f} dB PSNR "
            f"(decoded; float fit {result.fit_psnr:.2f} dB), {result.parameters} parameters, "
            f"{result.seconds:.1f} s")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(sc.__version__, prog_name="sasnet-codec")
def cli() -> None:
    """Neural image codec: overfit a SASNet to an image, store its quantized weights."""


@cli.command()
@click.argument("input_path", metavar="IN", type=click.Path(dir_okay=False))
@click.argument("output_path", metavar="OUT", type=click.Path(dir_okay=False))
@click.option("-q", "--quality", type=click.IntRange(1, 8), default=sc.DEFAULT_QUALITY,
              show_default=True, help="Preset: network size per pixel (1 smallest, 8 largest).")
@click.option("--bpp", "target_bpp", type=click.FloatRange(min=0, min_open=True),
              help="Target rate in bits per pixel (within about 10%); overrides --quality.")
@click.option("--arch", type=click.Choice(ARCHITECTURES), default="sasnet", show_default=True,
              help="Network: SASNet, its embedding without masks, or plain SIREN.")
@click.option("--steps", "fit_steps", type=click.IntRange(min=1),
              help="Fitting steps (default: the preset's).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N].")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bar and no report.")
def encode(input_path: str, output_path: str, quality: int, target_bpp: float | None, arch: str,
           fit_steps: int | None, device: str, seed: int, quiet: bool) -> None:
    """Fit IN (PNG, JPEG, ... any Pillow image) and write the .sas file OUT."""
    recipe = sc.DEFAULT_RECIPE if fit_steps is None else sc.DEFAULT_RECIPE.replace(
        fit_steps=(fit_steps,) * len(sc.QUALITY_LEVELS))
    result = sc.encode_file(input_path, output_path, quality=quality, arch=arch, seed=seed,
                            device=device, recipe=recipe, target_bpp=target_bpp,
                            progress=not quiet)
    if not quiet:
        click.echo(_report(result, output_path))


@cli.command()
@click.argument("input_path", metavar="IN", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "output_path", type=click.Path(dir_okay=False),
              help="Output image; the extension picks the format. Default: IN with .png.")
@click.option("--width", type=click.IntRange(min=1), help="Output width (alone: keep aspect).")
@click.option("--height", type=click.IntRange(min=1), help="Output height (alone: keep aspect).")
@click.option("--scale", type=click.FloatRange(min=0, min_open=True),
              help="Output size as a multiple of the coded size.")
@click.option("--device", default="cpu", show_default=True,
              help="cpu (numpy: no torch), cuda[:N] or auto.")
@click.option("--max-pixels", type=click.IntRange(min=1), default=DEFAULT_MAX_PIXELS,
              show_default=True, help="Refuse to produce more pixels than this.")
@click.option("--quiet", is_flag=True, help="Print nothing on success.")
def decode(input_path: str, output_path: str | None, width: int | None, height: int | None,
           scale: float | None, device: str, max_pixels: int, quiet: bool) -> None:
    """Decode the .sas file IN to an image, at its size or any other."""
    if output_path is None:
        if not Path(input_path).name:
            raise sc.CodecError("no input file given")
        output_path = str(Path(input_path).with_suffix(".png"))
    start = time.perf_counter()
    pixels = sc.decode_file(input_path, output_path, width, height, scale, device, max_pixels)
    if not quiet:
        click.echo(f"{output_path}: {pixels.shape[1]}x{pixels.shape[0]}, "
                   f"{pixels.shape[2]} channel(s), {time.perf_counter() - start:.2f} s")


@cli.command()
@click.argument("input_path", metavar="IN", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def info(input_path: str, as_json: bool) -> None:
    """Show the header fields, rate and section sizes of the .sas file IN."""
    summary = describe(read_input_file(input_path))
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(f"{input_path}: .sas version {summary['format_version']}, "
               f"{summary['width']}x{summary['height']}, {summary['channels']} channel(s), "
               f"{summary['bit_depth']}-bit")
    click.echo(f"  {summary['file_bytes']} bytes ({summary['header_bytes']} header, "
               f"{summary['payload_bytes']} payload), {summary['bpp']:.4f} bpp")
    model = summary["model"]
    click.echo(f"  network: {model['arch']}, {summary['parameters']} parameters; "
               + ", ".join(f"{k}={v}" for k, v in model.items() if k != "arch"))
    for section in summary["sections"]:
        in_part = (f"  ({section['coded_elements']} coded)"
                   if section["coded_elements"] < math.prod(section["shape"]) else "")
        click.echo(f"  {section['name']:<20} {str(section['shape']):<12} step {section['step']:.3g}"
                   f"  scale {section['laplace_scale']:.3g}  ~{section['estimated_bytes']} bytes"
                   + in_part)


@cli.command()
@click.argument("output_dir", required=False, type=click.Path(file_okay=False))
@click.option("--quiet", is_flag=True, help="No progress bar.")
def demo(output_dir: str | None, quiet: bool) -> None:
    """Encode and decode the bundled 192x128 sample; write both files to OUTPUT_DIR."""
    folder = Path(output_dir or tempfile.mkdtemp(prefix="sasnet-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    with resources.as_file(resources.files("sasnet_codec") / "data" / "sample.png") as sample:
        result = sc.encode_file(sample, folder / "sample.sas", progress=not quiet)
    start = time.perf_counter()
    sc.decode_file(folder / "sample.sas", folder / "sample_decoded.png")
    click.echo(_report(result, str(folder / "sample.sas")))
    click.echo(f"{folder / 'sample_decoded.png'}: decoded in {time.perf_counter() - start:.2f} s")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code. Codec errors print one line, never a traceback."""
    try:
        cli.main(args=argv, prog_name="sasnet-codec", standalone_mode=False)
    except sc.CodecError as error:
        click.echo(f"sasnet-codec: error: {error}", err=True)
        return EXIT_CODEC
    except click.ClickException as error:
        error.show()
        return EXIT_USAGE
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("sasnet-codec: interrupted", err=True)
        return EXIT_INTERRUPTED
    except click.exceptions.Exit as done:
        return done.exit_code
    return 0


def entry_point() -> None:
    sys.exit(main())
