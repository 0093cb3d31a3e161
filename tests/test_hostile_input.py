"""Hostile .sas input: every mutation decodes or raises CodecError, quickly."""

import random
import struct
import time
import zlib

import pytest

import sasnet_codec as sc
from sasnet_codec.errors import CodecError

MUTATIONS = 2000


def reseal(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


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
    assert decoded < MUTATIONS


@pytest.mark.parametrize("data", [b"", b"S", b"SAS", b"SAS\x01", b"\x00" * 100,
                                  b"SAS\x02" + b"\x00" * 40, b"\x89PNG\r\n\x1a\n" + b"\x00" * 50])
def test_malformed_headers(data):
    with pytest.raises(CodecError):
        sc.decode(data)


def test_truncations_at_every_length(encoded):
    for length in range(len(encoded.data)):
        with pytest.raises(CodecError):
            sc.decode(encoded.data[:length])
