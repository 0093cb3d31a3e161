"""Benchmark image sets: a folder of images, optionally downscaled (Lanczos), e.g. Kodak-mini
(the 24 Kodak images at 1/4 scale, 192x128)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

KODAK = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "kodak"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm"}


@dataclass(frozen=True)
class BenchImage:
    name: str
    pixels: np.ndarray   # uint8 [H, W, 3]


def default_folder() -> Path | None:
    """Kodak from ../shared/data/kodak when the checkout sits beside it."""
    return KODAK if KODAK.is_dir() else None


def load_images(folder: Path | None, downscale: int = 1,
                limit: int | None = None) -> list[BenchImage]:
    if folder is None:
        raise SystemExit("no image folder: pass --images DIR (Kodak was not found beside the "
                         "checkout)")
    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise SystemExit(f"no images in {folder}")
    images = []
    for path in paths[:limit]:
        with Image.open(path) as image:
            image = image.convert("RGB")
            if downscale > 1:
                image = image.resize((image.width // downscale, image.height // downscale),
                                     Image.LANCZOS)
            images.append(BenchImage(path.stem, np.asarray(image)))
    return images


def dataset_label(folder: Path, downscale: int) -> str:
    name = "kodak" if Path(folder).resolve() == KODAK.resolve() else Path(folder).name
    return f"{name}-mini" if downscale == 4 and name == "kodak" else (
        f"{name}-x{downscale}" if downscale > 1 else name)
