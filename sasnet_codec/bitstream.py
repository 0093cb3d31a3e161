"""The .sas container: the only module that packs or parses bytes. Layout in docs/bitstream.md.

    magic "SAS" | version u8 | width varint | height varint | flags u8
    | model config: 17 varints | per tensor: step index u8, Laplace scale index u8
    | payload length varint | payload (range-coded 32-bit words, little-endian)
    | CRC-32 (little-endian) of every byte before it

Nothing read from a file is executed; every field is checked against documented limits before
anything is allocated.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from .config import ARCHITECTURES, ModelConfig
from .errors import CodecError
from .layout import parameter_count, parameter_shapes

MAGIC = b"SAS"
FORMAT_VERSION = 1
DEFAULT_MAX_PIXELS = 1 << 26
"""Largest image (width x height) a decoder agrees to produce unless raised: 64 Mpixel, about
200 MB as 8-bit RGB. Applies to the coded size and to any requested render size."""
MAX_PARAMETERS = 1 << 24
"""Largest network a decoder agrees to build (64 MB of float32)..."""
PARAMETERS_PER_PIXEL_LIMIT = 4
"""...and at most this many parameters per coded pixel (beyond a 65536 floor): presets use
under 1, and the limit keeps a tiny file from asking for a huge network on a huge canvas."""
MAX_DIMENSION = 1 << 16

CONFIG_FIELDS = (
    "embedding_width", "hidden_width", "hidden_layers", "omega_0", "band_limit",
    "low_freq_range", "low_freq_percent", "n_bands", "n_groups", "period_percent",
    "grid_levels", "grid_features", "grid_log2_size", "grid_base_resolution", "grid_scale_x64",
    "mask_hidden", "seed",
)
"""Config fields after the flags byte, in this order (arch and channels live in the flags)."""


@dataclass(frozen=True)
class Header:
    width: int
    height: int
    bit_depth: int           # 8 or 16
    model: ModelConfig       # model.channels is the image's channel count


@dataclass(frozen=True)
class SectionCoding:
    step_index: int          # into tables.quantization_step
    scale_index: int         # into tables.laplace_scale


@dataclass(frozen=True)
class Container:
    header: Header
    sections: tuple[SectionCoding, ...]   # one per tensor, in parameter_shapes order
    payload: bytes

    @property
    def overhead_bytes(self) -> int:
        """Everything in the file that is not entropy-coded payload."""
        return len(pack(self)) - len(self.payload)


def _varint(value: int) -> bytes:
    """Unsigned LEB128."""
    if value < 0:
        raise ValueError("varints are unsigned")
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def pack(container: Container) -> bytes:
    header = container.header
    model = header.model
    if len(container.sections) != len(parameter_shapes(model)):
        raise ValueError("one section coding per tensor is required")
    flags = ((model.channels - 1) | (header.bit_depth == 16) << 2
             | ARCHITECTURES.index(model.arch) << 3)
    out = bytearray(MAGIC)
    out.append(FORMAT_VERSION)
    out += _varint(header.width) + _varint(header.height)
    out.append(flags)
    for name in CONFIG_FIELDS:
        out += _varint(getattr(model, name))
    for section in container.sections:
        out += bytes((section.step_index, section.scale_index))
    out += _varint(len(container.payload))
    out += container.payload
    out += struct.pack("<I", zlib.crc32(out))
    return bytes(out)


class _Reader:
    def __init__(self, data: bytes, end: int) -> None:
        self.data, self.pos, self.end = data, 0, end

    def take(self, count: int) -> bytes:
        if self.pos + count > self.end:
            raise CodecError("truncated .sas file")
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]

    def varint(self, limit: int = 1 << 32) -> int:
        value, shift = 0, 0
        while True:
            byte = self.byte()
            value |= (byte & 0x7F) << shift
            if value > limit:
                raise CodecError("corrupt .sas header: a field is out of range")
            if not byte & 0x80:
                return value
            shift += 7


def check_limits(width: int, height: int, model: ModelConfig, max_pixels: int = DEFAULT_MAX_PIXELS,
                 who: str = "this image needs") -> None:
    """Raise CodecError unless a decoder with these limits accepts such a file. The encoder
    calls it before fitting, the parser before allocating."""
    if not (1 <= width <= MAX_DIMENSION and 1 <= height <= MAX_DIMENSION):
        raise CodecError(f"{who} {width}x{height} pixels; each side must be 1..{MAX_DIMENSION}")
    if width * height > max_pixels:
        raise CodecError(f"{who} {width}x{height} pixels, above the limit of {max_pixels}; "
                         "raise max_pixels if you trust it")
    parameters = parameter_count(model)
    limit = min(MAX_PARAMETERS, max(1 << 16, PARAMETERS_PER_PIXEL_LIMIT * width * height))
    if parameters > limit:
        raise CodecError(f"{who} a network of {parameters} parameters, above the limit of "
                         f"{limit} for a {width}x{height} image")


def unpack(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Container:
    """Parse and check a .sas file. Raises CodecError, naming the problem, for anything that is
    not a well-formed file of a supported version within the limits."""
    if len(data) < len(MAGIC) + 1 or not data.startswith(MAGIC):
        raise CodecError("not a .sas file (missing the 'SAS' signature)")
    version = data[len(MAGIC)]
    if version != FORMAT_VERSION:
        raise CodecError(
            f"unsupported .sas format version {version}; "
            f"this decoder reads version {FORMAT_VERSION}")
    if len(data) < len(MAGIC) + 1 + 4:
        raise CodecError("truncated .sas file")
    (stored_crc,) = struct.unpack("<I", data[-4:])
    if zlib.crc32(data[:-4]) != stored_crc:
        raise CodecError("corrupt .sas file: checksum mismatch (truncated or damaged)")
    reader = _Reader(data, len(data) - 4)
    reader.take(len(MAGIC) + 1)
    width = reader.varint(MAX_DIMENSION)
    height = reader.varint(MAX_DIMENSION)
    flags = reader.byte()
    arch_index = flags >> 3 & 0x3
    if flags >> 5 or arch_index >= len(ARCHITECTURES):
        raise CodecError("corrupt .sas header: unknown flags")
    fields = {name: reader.varint() for name in CONFIG_FIELDS}
    model = ModelConfig(arch=ARCHITECTURES[arch_index], channels=(flags & 0x3) + 1, **fields)
    check_limits(width, height, model, max_pixels, "the file declares")
    sections = tuple(SectionCoding(reader.byte(), reader.byte())
                     for _ in parameter_shapes(model))
    payload_length = reader.varint(len(data))
    if payload_length % 4:
        raise CodecError("corrupt .sas file: the payload is not a whole number of 32-bit words")
    payload = reader.take(payload_length)
    if reader.pos != reader.end:
        raise CodecError("corrupt .sas file: unexpected bytes after the payload")
    header = Header(width, height, 16 if flags & 0x4 else 8, model)
    return Container(header, sections, payload)
