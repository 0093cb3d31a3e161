"""Images in and out: every Pillow mode, 8- and 16-bit PNG, EXIF orientation.

Inside the codec an image is a float32 array [height, width, channels] in [0, 1] plus the bit
depth it came with (8 or 16); channels are 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA).
Alpha is coded like any other channel. Pillow reads 16-bit colour PNG as 8-bit, so those (and
16-bit colour output) go through pypng.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import png
from PIL import Image, UnidentifiedImageError

from .errors import CodecError
from .files import read_input_file, write_atomically

_EXIF_ORIENTATION = 0x0112
PILLOW_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
"""Pillow's 8-bit mode for each channel count."""
_MODE_CONVERSIONS = {
    "1": "L", "L": "L", "LA": "LA", "La": "LA", "PA": "RGBA", "RGB": "RGB", "RGBX": "RGB",
    "RGBA": "RGBA", "RGBa": "RGBA", "CMYK": "RGB", "YCbCr": "RGB", "LAB": "RGB", "HSV": "RGB",
}


@dataclass(frozen=True)
class ImageData:
    pixels: np.ndarray   # float32 [height, width, channels] in [0, 1]
    bit_depth: int       # 8 or 16: the precision of the source, and of the decoded output

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    @property
    def channels(self) -> int:
        return self.pixels.shape[2]


def image_from_array(array: np.ndarray, bit_depth: int | None = None) -> ImageData:
    """Wrap a uint8, uint16 or float (in [0, 1]) array of shape [H, W] or [H, W, C]."""
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or not 1 <= array.shape[2] <= 4:
        raise CodecError(f"expected an image array [H, W] or [H, W, 1..4], got {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise CodecError("the image has no pixels")
    if array.dtype == np.uint8:
        pixels, depth = array.astype(np.float32) / 255.0, 8
    elif array.dtype == np.uint16:
        pixels, depth = array.astype(np.float32) / 65535.0, 16
    elif np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise CodecError("the image array holds NaN or infinite values")
        pixels, depth = np.clip(array, 0.0, 1.0).astype(np.float32), 8
    else:
        raise CodecError(f"unsupported image array type {array.dtype}; use uint8, uint16 or float")
    return ImageData(np.ascontiguousarray(pixels), bit_depth or depth)


def to_integer_array(pixels: np.ndarray, bit_depth: int) -> np.ndarray:
    """Round float pixels in [0, 1] to uint8 or uint16."""
    peak = 255 if bit_depth == 8 else 65535
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    return np.clip(np.rint(pixels * peak), 0, peak).astype(dtype)


def load_image(path: str | os.PathLike) -> ImageData:
    """Read an image file, apply its EXIF orientation, convert its mode (see module doc)."""
    data = read_input_file(path)
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
            if _is_16bit_colour_png(data):
                array = _read_png_16bit(data)
            else:
                array = _pillow_to_array(image)
    except (UnidentifiedImageError, Image.DecompressionBombError) as error:
        raise CodecError(f"{str(path)!r} is not a readable image: {error}") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, png.Error) as error:
        raise CodecError(f"{str(path)!r} is a damaged or unsupported image: {error}") from None
    return image_from_array(_apply_orientation(array, orientation))


def _pillow_to_array(image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode.startswith("I;16") or mode == "I":
        return np.clip(np.asarray(image, dtype=np.int64), 0, 65535).astype(np.uint16)
    if mode == "F":
        raise CodecError("32-bit float images are not supported; save it as 8- or 16-bit")
    if mode == "P":
        target = "RGBA" if "transparency" in image.info else "RGB"
    else:
        target = _MODE_CONVERSIONS.get(mode)
    if target is None:
        raise CodecError(f"unsupported image mode {mode!r}")
    return np.asarray(image.convert(target) if target != mode else image)


def _is_16bit_colour_png(data: bytes) -> bool:
    # IHDR follows the 8-byte signature: length, type, width, height, bit depth, colour type.
    if len(data) < 26 or not data.startswith(b"\x89PNG\r\n\x1a\n") or data[12:16] != b"IHDR":
        return False
    bit_depth, colour_type = data[24], data[25]
    return bit_depth == 16 and colour_type in (2, 4, 6)


def _read_png_16bit(data: bytes) -> np.ndarray:
    width, height, rows, info = png.Reader(bytes=data).asDirect()
    array = np.vstack([np.asarray(row, dtype=np.uint16) for row in rows])
    return array.reshape(height, width, info["planes"])


def _apply_orientation(array: np.ndarray, orientation: int) -> np.ndarray:
    """EXIF orientation 1..8 to the upright image (the transposes Pillow's exif_transpose uses)."""
    if array.ndim == 2:
        array = array[:, :, None]
    steps = {
        2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1), 6: lambda a: np.rot90(a, -1),
        7: lambda a: np.rot90(a, 2).swapaxes(0, 1), 8: lambda a: np.rot90(a, 1),
    }
    return np.ascontiguousarray(steps.get(orientation, lambda a: a)(array))


def save_image(array: np.ndarray, path: str | os.PathLike) -> None:
    """Write a uint8/uint16 array [H, W, C] in the format named by the extension, atomically.

    16-bit data goes to PNG at full depth; other formats get 8 bits. Formats that cannot hold
    alpha refuse it rather than silently dropping it.
    """
    suffix = Path(path).suffix.lower()
    extensions = Image.registered_extensions()
    if suffix not in extensions:
        raise CodecError(f"unknown output format {suffix or '(no extension)'!r}; try .png")
    channels = array.shape[2]
    if array.dtype == np.uint16 and suffix == ".png":
        writer = png.Writer(width=array.shape[1], height=array.shape[0], bitdepth=16,
                            greyscale=channels <= 2, alpha=channels in (2, 4))
        write_atomically(path, lambda f: writer.write_array(f, array.reshape(-1)))
        return
    if array.dtype == np.uint16:
        array = to_integer_array(array.astype(np.float32) / 65535.0, 8)
    mode = PILLOW_MODES[channels]
    image = Image.fromarray(array[:, :, 0] if channels == 1 else array, mode=mode)
    fmt = extensions[suffix]

    def write(stream) -> None:
        try:
            image.save(stream, format=fmt)
        except (OSError, ValueError, KeyError, OverflowError, struct.error) as error:
            raise CodecError(f"cannot save a {mode} image as {fmt}: {error}") from None

    write_atomically(path, write)
