"""The codecs a rate-distortion run measures, and how one encode of one image becomes a Row:
Pillow's JPEG, WebP and AVIF at their quality settings, and sasnet-codec as a NeuralCodec (an
architecture and the Recipe fields that --recipe and a --variant change, parsed here), encoded
and decoded through the public file API so that rates are the sizes of real files. A
NeuralCodec's settings key (its cache place) hashes its full encoder settings, kept stable
across settings added to or retired from the encoder since the cache began."""

from __future__ import annotations

import hashlib
import io
import json
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import PIL
from PIL import Image, features

from sasnet_codec.config import EncoderConfig
from sasnet_codec.metrics import psnr

from .datasets import BenchImage


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
    ("quant", "stage_last_hidden"): False, ("model", "split_first_hidden"): 0}
"""Encoder settings added after the cache began, each with the value that does what the code
did before it existed."""

RETIRED_SETTINGS: dict[tuple[str, str], object] = {("quant", "finetune_lr"): 1e-5}
"""Encoder settings removed after the cache began, each with the value every cached encode
held (whether or not it used it)."""


@dataclass(frozen=True)
class NeuralCodec:
    """sasnet-codec with one architecture and recipe: the codec itself, --arch siren, or a
    --variant that changes recipe fields (an ablation), each with --recipe's fields."""

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
    """One --variant or --recipe value as the Recipe field's type; a bool is spelled true/false
    or 1/0 (bool("false") would be True)."""
    if kind is bool:
        spellings = {"true": True, "1": True, "false": False, "0": False}
        if text.lower() not in spellings:
            raise ValueError(text)
        return spellings[text.lower()]
    return kind(text)


def parse_variant(words: list[str]) -> tuple[str, dict]:
    """["label", "field=value", ...] -> (label, Recipe overrides)."""
    return words[0], parse_recipe(words[1:], f"--variant {words[0]}")


def parse_recipe(assignments: list[str], option: str) -> dict:
    """["field=value", ...] -> Recipe overrides; `option` names them in errors. A per-quality
    field takes one number for every level or one per level separated by '/'."""
    import sasnet_codec as sc

    defaults = sc.DEFAULT_RECIPE
    overrides = {}
    for assignment in assignments:
        field_name, _, text = assignment.partition("=")
        if not hasattr(defaults, field_name) or not text:
            raise SystemExit(f"{option}: {assignment!r} is not FIELD=VALUE of a Recipe")
        current = getattr(defaults, field_name)
        kind = type(current[0]) if isinstance(current, tuple) else type(current)
        try:
            values = [parse_value(kind, v) for v in text.split("/")]
        except ValueError:
            raise SystemExit(f"{option}: {text!r} is not {kind.__name__}") from None
        if isinstance(current, tuple):
            overrides[field_name] = tuple(values * len(current) if len(values) == 1 else values)
        elif len(values) == 1:
            overrides[field_name] = values[0]
        else:
            raise SystemExit(f"{option}: {field_name} takes one value")
    try:
        defaults.replace(**overrides)
    except sc.CodecError as error:
        raise SystemExit(f"{option}: {error}") from None
    return overrides
