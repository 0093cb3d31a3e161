"""The .sas container: the only module that packs or parses bytes. Layout in docs/bitstream.md.

Formats 2 to 5 (written):
    magic "SAS" | version u8 | header bits | payload (range-coded 32-bit words) | CRC-32
    (little-endian) of every byte before it
where the header bits are Exp-Golomb codes (as H.264's ue/se) of the size, 5 flag bits, each
model config field as its difference from CONFIG_REFERENCE, then per tensor its step and
Laplace scale indices, zero-padded to a byte; the payload runs to the CRC. Format 3 adds one
config field (split_first_hidden); format 4 leaves out of the payload the grid entries that no
render of the image reads (layout.elements_read); format 5 codes each tensor's indices as their
differences from SECTION_REFERENCE (formats 2-4: 8 bits each) and its payload's words
big-endian, trimmed of their last zero bytes (formats 2-4: little-endian whole words). A
network is written in the format that holds it in the fewest bytes, the oldest of equals, so a
file that format 2 holds as well is format 2, byte for byte, and older decoders read it.

Format 1 (still read): the same fields as varints and bytes, with an explicit payload length.

Nothing read from a file is executed; every field is checked against documented limits before
anything is allocated.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from . import layout
from .config import ARCHITECTURES, ModelConfig
from .errors import CodecError
from .layout import parameter_count, parameter_shapes
from .tables import LAPLACE_SCALE_COUNT, QUANT_STEP_COUNT

MAGIC = b"SAS"
FORMAT_VERSION = 5
"""The newest format this writer knows."""
READABLE_VERSIONS = (1, 2, 3, 4, 5)
WRITTEN_VERSIONS = (2, 3, 4, 5)
"""The formats a writer chooses among (format 1 only on request)."""
CODED_IN_PART_SINCE = 4
"""The format that leaves unread grid entries out of the payload."""
REFERENCED_SECTIONS_SINCE = 5
"""The format that codes each tensor's step and scale indices against SECTION_REFERENCE."""
TRIMMED_PAYLOAD_SINCE = 5
"""The format whose payload words are big-endian, without the stream's trailing zero bytes."""
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
    "mask_hidden", "seed", "split_first_hidden",
)
"""Config fields after the flags, in this order (arch and channels live in the flags)."""
FIELD_SINCE = {"split_first_hidden": 3}
"""The format that added a field; older formats leave it out, and hold only networks where
it is at its reference (ModelConfig's default)."""

CONFIG_REFERENCE = {
    "embedding_width": 64, "hidden_width": 48, "hidden_layers": 2, "omega_0": 30,
    "band_limit": 32, "low_freq_range": 6, "low_freq_percent": 50, "n_bands": 4, "n_groups": 8,
    "period_percent": 250, "grid_levels": 6, "grid_features": 2, "grid_log2_size": 8,
    "grid_base_resolution": 4, "grid_scale_x64": 96, "mask_hidden": 16, "seed": 0,
    "split_first_hidden": 0,
}
"""Formats 2 and up code each config field as its difference from this value: ModelConfig's defaults
when the format was made, frozen here so that a new default never changes an old file. A field
at its reference costs one bit; the presets' headers take 6-10 bytes instead of 18."""
SECTION_REFERENCE = {
    "embedding.phase": (51, 58), "first.weight": (86, 17), "first.bias": (95, -40),
    "hidden.weight": (75, -54), "hidden.weight_low": (82, -56), "hidden.weight_high": (73, -55),
    "hidden.bias": (82, -42), "output.weight": (74, -29), "output.bias": (77, -29),
    "grid.table": (29, 57), "mask.hidden.weight": (46, 38), "mask.hidden.bias": (50, 37),
    "mask.out.weight": (37, 45), "mask.out.bias": (42, 35),
}
"""Format 5 codes each tensor's step index `i` and Laplace scale index `j` as the differences
of `i` and of `j - 2 i` (the Laplace scale in the tensor's own units, not in steps: it varies
less) from this pair, keyed by the tensor's name with its hidden layer's number left out. The
values are the medians over the Kodak-mini encodes of qualities 1-7 that format 4's codec
wrote, frozen here; a tensor the table lacks is coded against (0, 0)."""
SECTION_CODE_ORDER = 3
"""Format 5's section codings are Exp-Golomb codes of this order (their spread is 4-8)."""
EXP_GOLOMB_MAX_ZEROS = 32
"""Longest Exp-Golomb prefix a reader accepts (values below 2^(32 + order))."""


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
    version: int             # the format, which decides the elements the payload holds


class _BitWriter:
    """Bits, most significant first, into bytes."""

    def __init__(self) -> None:
        self.value, self.length = 0, 0

    def fixed(self, value: int, width: int) -> None:
        if not 0 <= value < 1 << width:
            raise ValueError(f"{value} does not fit in {width} bits")
        self.value, self.length = self.value << width | value, self.length + width

    def unsigned(self, value: int, order: int = 0) -> None:
        """Exp-Golomb ue(v) of order k: ue(v >> k) (v + 1 in binary after as many zeros as it
        has bits, less one), then the k low bits of v."""
        width = ((value >> order) + 1).bit_length()
        self.fixed((value >> order) + 1, 2 * width - 1)
        self.fixed(value & ((1 << order) - 1), order)

    def signed(self, value: int, order: int = 0) -> None:
        """se(v): 0, 1, -1, 2, -2, ... as ue 0, 1, 2, 3, 4, ..."""
        self.unsigned(2 * value - 1 if value > 0 else -2 * value, order)

    def varint(self, value: int) -> None:
        """Format 1's unsigned LEB128 (byte-aligned there)."""
        while True:
            byte, value = value & 0x7F, value >> 7
            self.fixed(byte | (0x80 if value else 0), 8)
            if not value:
                return

    def to_bytes(self) -> bytes:
        padding = -self.length % 8
        return (self.value << padding).to_bytes((self.length + padding) // 8, "big")


def config_fields(version: int) -> tuple[str, ...]:
    """The config fields a header of format `version` holds, in order."""
    return tuple(name for name in CONFIG_FIELDS if FIELD_SINCE.get(name, 1) <= version)


def coded_elements(header: Header, version: int) -> dict[str, np.ndarray]:
    """The elements a payload of format `version` holds of each tensor it holds in part (the
    rest decode as zero): from format 4 on, the grid entries that a render may read."""
    if version < CODED_IN_PART_SINCE:
        return {}
    return layout.elements_read(header.model, header.width, header.height)


def field_missing(model: ModelConfig, version: int) -> str | None:
    """A config field of this network that format `version` cannot hold (None: it holds all)."""
    return next((name for name in CONFIG_FIELDS if name not in config_fields(version)
                 and getattr(model, name) != CONFIG_REFERENCE[name]), None)


def versions_holding(model: ModelConfig) -> tuple[int, ...]:
    """The written formats that hold this network."""
    return tuple(version for version in WRITTEN_VERSIONS if not field_missing(model, version))


def section_reference(name: str) -> tuple[int, int]:
    """Format 5's reference (step index, scale index - 2 x step index) for a tensor: its
    name's, with a leading "hidden<digits>" read as "hidden"."""
    return SECTION_REFERENCE.get(re.sub(r"^hidden\d+", "hidden", name), (0, 0))


def pack(container: Container) -> bytes:
    """The file of `container`, in its format (format 1 for decoders that predate format 2,
    or to measure what a newer one saves)."""
    header, version = container.header, container.version
    model = header.model
    if len(container.sections) != len(parameter_shapes(model)):
        raise ValueError("one section coding per tensor is required")
    if version not in READABLE_VERSIONS:
        raise ValueError(f"no .sas format version {version}")
    missing = field_missing(model, version)
    if missing:
        raise ValueError(f"format {version} cannot hold {missing}={getattr(model, missing)} "
                         f"(format {FIELD_SINCE[missing]} can)")
    if not all(_in_tables(s.step_index, s.scale_index) for s in container.sections):
        raise ValueError("a step or scale index outside its table")
    if version >= TRIMMED_PAYLOAD_SINCE and container.payload.endswith(b"\0"):
        raise ValueError(f"a format-{version} payload is trimmed of its trailing zero bytes")
    flags = (ARCHITECTURES.index(model.arch) << 3 | (header.bit_depth == 16) << 2
             | model.channels - 1)
    out = bytearray(MAGIC)
    out.append(version)
    out += _header_bits(version, header.width, header.height, flags,
                        {name: getattr(model, name) for name in CONFIG_FIELDS},
                        [(name, s.step_index, s.scale_index) for (name, _), s
                         in zip(parameter_shapes(model), container.sections)],
                        len(container.payload))
    out += container.payload
    out += struct.pack("<I", zlib.crc32(out))
    return bytes(out)


def _header_bits(version: int, width: int, height: int, flags: int, fields: dict[str, int],
                 sections: list[tuple[str, int, int]], payload_bytes: int) -> bytes:
    """Everything between the version byte and the payload, from raw values (so that the tests
    can write headers no valid container has)."""
    bits = _BitWriter()
    if version == 1:
        bits.varint(width)
        bits.varint(height)
        bits.fixed(flags, 8)
        for name in config_fields(version):
            bits.varint(fields[name])
    else:
        bits.unsigned(width - 1)
        bits.unsigned(height - 1)
        bits.fixed(flags, 5)
        for name in config_fields(version):
            bits.signed(fields[name] - CONFIG_REFERENCE[name])
    for name, step_index, scale_index in sections:
        if version >= REFERENCED_SECTIONS_SINCE:
            step_reference, own_scale_reference = section_reference(name)
            bits.signed(step_index - step_reference, SECTION_CODE_ORDER)
            bits.signed(scale_index - 2 * step_index - own_scale_reference, SECTION_CODE_ORDER)
        else:
            bits.fixed(step_index, 8)
            bits.fixed(scale_index, 8)
    if version == 1:
        bits.varint(payload_bytes)
    return bits.to_bytes()


class _BitReader:
    """Reads what _BitWriter writes (and format 1's bytes and varints), never past `end`."""

    def __init__(self, data: bytes, start: int, end: int) -> None:
        self.data, self.pos, self.end = data, 8 * start, 8 * end

    def fixed(self, width: int) -> int:
        if self.pos + width > self.end:
            raise CodecError("truncated .sas file")
        first, last = self.pos // 8, (self.pos + width + 7) // 8
        chunk = int.from_bytes(self.data[first:last], "big")
        value = chunk >> (8 * last - self.pos - width) & ((1 << width) - 1)
        self.pos += width
        return value

    def unsigned(self, order: int = 0) -> int:
        zeros = 0
        while not self.fixed(1):
            zeros += 1
            if zeros > EXP_GOLOMB_MAX_ZEROS:
                raise CodecError("corrupt .sas header: a field is out of range")
        return ((1 << zeros | self.fixed(zeros)) - 1) << order | self.fixed(order)

    def signed(self, order: int = 0) -> int:
        code = self.unsigned(order)
        return (code + 1) // 2 if code % 2 else -(code // 2)

    def varint(self, limit: int = 1 << 32) -> int:
        """Format 1's unsigned LEB128."""
        value, shift = 0, 0
        while True:
            byte = self.fixed(8)
            value |= (byte & 0x7F) << shift
            if value > limit:
                raise CodecError("corrupt .sas header: a field is out of range")
            if not byte & 0x80:
                return value
            shift += 7

    def take_bytes(self, count: int) -> bytes:
        start = self.pos // 8
        if self.pos % 8 or self.pos + 8 * count > self.end:
            raise CodecError("truncated .sas file")
        self.pos += 8 * count
        return self.data[start : start + count]


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


def version_of(data: bytes) -> int:
    """The format version of a .sas file (CodecError for anything without the signature)."""
    if len(data) < len(MAGIC) + 1 or not data.startswith(MAGIC):
        raise CodecError("not a .sas file (missing the 'SAS' signature)")
    return data[len(MAGIC)]


def unpack(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Container:
    """Parse and check a .sas file of any readable version. Raises CodecError, naming the
    problem, for anything that is not a well-formed file within the limits."""
    version = version_of(data)
    if version not in READABLE_VERSIONS:
        raise CodecError(
            f"unsupported .sas format version {version}; this decoder reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}")
    if len(data) < len(MAGIC) + 1 + 4:
        raise CodecError("truncated .sas file")
    (stored_crc,) = struct.unpack("<I", data[-4:])
    if zlib.crc32(data[:-4]) != stored_crc:
        raise CodecError("corrupt .sas file: checksum mismatch (truncated or damaged)")
    reader = _BitReader(data, len(MAGIC) + 1, len(data) - 4)
    if version == 1:
        width = reader.varint(MAX_DIMENSION)
        height = reader.varint(MAX_DIMENSION)
        flags = reader.fixed(8)
        fields = {name: reader.varint() for name in config_fields(version)}
    else:
        width = reader.unsigned() + 1
        height = reader.unsigned() + 1
        flags = reader.fixed(5)
        fields = {name: CONFIG_REFERENCE[name] + reader.signed()
                  for name in config_fields(version)}
    arch_index = flags >> 3   # format 1's three spare high bits land here too
    if arch_index >= len(ARCHITECTURES):
        raise CodecError("corrupt .sas header: unknown flags")
    if min(fields.values()) < 0:
        raise CodecError("corrupt .sas header: a field is out of range")
    model = ModelConfig(arch=ARCHITECTURES[arch_index], channels=(flags & 0x3) + 1, **fields)
    check_limits(width, height, model, max_pixels, "the file declares")
    sections = tuple(_section_coding(reader, version, name) for name, _ in parameter_shapes(model))
    if version == 1:
        payload = reader.take_bytes(reader.varint(len(data)))
        if reader.pos != reader.end:
            raise CodecError("corrupt .sas file: unexpected bytes after the payload")
    else:
        if reader.fixed(-reader.pos % 8):
            raise CodecError("corrupt .sas header: nonzero padding bits")
        payload = reader.take_bytes((reader.end - reader.pos) // 8)
    if version >= TRIMMED_PAYLOAD_SINCE and payload.endswith(b"\0"):   # a writer trims them
        raise CodecError(f"corrupt .sas file: a format-{version} payload ends in a zero byte")
    if version < TRIMMED_PAYLOAD_SINCE and len(payload) % 4:
        raise CodecError("corrupt .sas file: the payload is not a whole number of 32-bit words")
    header = Header(width, height, 16 if flags & 0x4 else 8, model)
    return Container(header, sections, payload, version)


def _section_coding(reader: _BitReader, version: int, name: str) -> SectionCoding:
    """One tensor's step and scale indices, checked against their tables' range."""
    if version < REFERENCED_SECTIONS_SINCE:
        return SectionCoding(reader.fixed(8), reader.fixed(8))
    step_reference, own_scale_reference = section_reference(name)
    step_index = step_reference + reader.signed(SECTION_CODE_ORDER)
    scale_index = own_scale_reference + 2 * step_index + reader.signed(SECTION_CODE_ORDER)
    if not _in_tables(step_index, scale_index):
        raise CodecError("corrupt .sas header: a section's step or scale is out of range")
    return SectionCoding(step_index, scale_index)


def _in_tables(step_index: int, scale_index: int) -> bool:
    return 0 <= step_index < QUANT_STEP_COUNT and 0 <= scale_index < LAPLACE_SCALE_COUNT
