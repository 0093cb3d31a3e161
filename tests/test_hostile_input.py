"""Hostile .sas input: every mutation decodes or raises CodecError, quickly."""

import random
import time

import pytest

import sasnet_codec as sc
from sasnet_codec.bitstream import CONFIG_FIELDS, MAGIC, _header_bits
from sasnet_codec.config import MODEL_LIMITS
from sasnet_codec.errors import CodecError

from tests.helpers import reseal

MUTATIONS = 2000


def mutate(data: bytes, rng: random.Random) -> bytes:
    """Bit flips, byte rewrites, cuts, insertions and duplications; half of the cases get a
    fresh CRC so that the parser, not just the checksum, is exercised."""
    body = bytearray(data[:-4])
    kind = rng.randrange(6)
    if kind == 0:
        position = rng.randrange(len(body))
        body[position] ^= 1 << rng.randrange(8)
    elif kind == 1:
        for _ in range(rng.randint(1, 4)):
            body[rng.randrange(len(body))] = rng.randrange(256)
    elif kind == 2:
        del body[rng.randrange(len(body)):]
    elif kind == 3:
        position = rng.randrange(len(body))
        body[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    elif kind == 4:
        start = rng.randrange(len(body))
        del body[start : start + rng.randint(1, 16)]
    else:
        body[rng.randrange(4, 40)] = rng.choice([0, 1, 0x7F, 0x80, 0xFF])
    if rng.random() < 0.5:
        return reseal(bytes(body))
    return bytes(body) + data[-4:]


def test_fuzzed_files_decode_or_raise_codec_error(encoded):
    rng = random.Random(1234)
    slowest, decoded = 0.0, 0
    # A small pixel limit keeps a mutated header from asking for a legitimately huge render.
    for _ in range(MUTATIONS):
        data = mutate(encoded.data, rng)
        start = time.perf_counter()
        try:
            sc.decode(data, max_pixels=4096)
            decoded += 1
        except CodecError:
            pass
        slowest = max(slowest, time.perf_counter() - start)
    assert slowest < 1.0


@pytest.mark.parametrize("data", [b"", b"S", b"SAS", b"SAS\x01", b"\x00" * 100,
                                  b"SAS\x02" + b"\x00" * 40, b"\x89PNG\r\n\x1a\n" + b"\x00" * 50])
def test_malformed_headers(data):
    with pytest.raises(CodecError):
        sc.decode(data)


def test_truncations_at_every_length(encoded):
    for length in range(len(encoded.data)):
        with pytest.raises(CodecError):
            sc.decode(encoded.data[:length])


def header_bytes(fields: dict, width: int = 24, height: int = 16, flags: int = 2,
                 sections: int = 12, payload: bytes = b"\x00" * 7 + b"\x01", version: int = 2
                 ) -> bytes:
    """A hand-built .sas file with a valid CRC: the parser, not the checksum, must judge it."""
    header = _header_bits(version, width, height, flags, fields, [("", 0, 0)] * sections,
                          len(payload))
    return reseal(bytes(MAGIC) + bytes([version]) + header + payload)


def field_values(name: str) -> list[int]:
    low, high = MODEL_LIMITS[name]
    rng = random.Random(name)
    return sorted({0, 1, max(0, low - 1), low, high, high + 1, 2**31, rng.randint(low, high)})


@pytest.mark.parametrize("version", [1, 2, 3, 5])
def test_every_config_field_at_its_edges_decodes_or_is_refused(encoded, version):
    base = sc.bitstream.unpack(encoded.data).header.model.to_dict()
    slowest = 0.0
    for name in CONFIG_FIELDS:
        for value in field_values(name):
            fields = dict(base, **{name: value})
            for sections in (12, 4):
                data = header_bytes(fields, sections=sections, version=version)
                start = time.perf_counter()
                try:
                    sc.decode(data, max_pixels=4096)
                except CodecError:
                    pass
                slowest = max(slowest, time.perf_counter() - start)
    assert slowest < 2.0


def test_a_header_whose_embedding_cannot_be_built_is_refused():
    # Passes each field's range, but the band holds fewer frequencies than the width asks.
    fields = dict(sc.ModelConfig().to_dict(), embedding_width=14, band_limit=2,
                  low_freq_range=1, low_freq_percent=0)
    with pytest.raises(CodecError, match="frequencies"):
        sc.decode(header_bytes(fields, flags=2 | 1 << 3))


def test_a_tiny_file_cannot_ask_for_a_huge_network():
    fields = dict(sc.ModelConfig().to_dict(), arch="siren", embedding_width=4096,
                  hidden_width=4096, hidden_layers=4)
    del fields["arch"], fields["channels"]
    with pytest.raises(CodecError, match="parameters"):
        sc.decode(header_bytes(fields, width=64, height=64, flags=2 | 2 << 3, sections=12))
