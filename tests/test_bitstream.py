from dataclasses import replace

import pytest

from sasnet_codec.bitstream import (CONFIG_REFERENCE, FORMAT_VERSION, Container, Header,
                                    SectionCoding, _BitReader, _BitWriter, _header_bits, pack,
                                    payload_plan, unpack, version_of)
from sasnet_codec.config import ModelConfig
from sasnet_codec.errors import CodecError
from sasnet_codec.layout import parameter_shapes
from sasnet_codec.encoder import HEADER_ALLOWANCE_BYTES
from sasnet_codec.presets import encoder_config

from tests.helpers import reseal


def container_for(model: ModelConfig, payload: bytes = b"\x01\x02\x03\x04" * 3,
                  width: int = 192, height: int = 128, bit_depth: int = 8,
                  version: int | None = None) -> Container:
    """A container of made-up codings, in the format a writer would use (or `version`)."""
    sections = tuple(SectionCoding(40 + i, 60 + i) for i in range(len(parameter_shapes(model))))
    header = Header(width, height, bit_depth, model)
    return Container(header, sections, payload, version or payload_plan(header)[0])


def test_round_trip():
    for arch in ("sasnet", "femb", "siren"):
        for channels, depth in ((1, 16), (3, 8), (4, 8)):
            model = ModelConfig(arch=arch, channels=channels, seed=2**31 + 5)
            original = container_for(model, bit_depth=depth)
            assert unpack(pack(original)) == original


def test_a_split_first_layer_needs_format_3_and_the_rest_stays_format_2():
    """Format 3 adds split_first_hidden; a network without it is written in format 2 byte for
    byte as before (older decoders read it), and one with it cannot be. (On a square image
    whose grid levels are all read, format 4 would leave nothing out.)"""
    whole = container_for(ModelConfig(), width=128, height=128)
    split = container_for(ModelConfig(split_first_hidden=1), width=128, height=128)
    assert len(split.sections) == len(whole.sections) + 1
    assert version_of(pack(whole)) == 2 and version_of(pack(split)) == 3
    assert unpack(pack(split)) == split
    as_3 = replace(whole, version=3)
    assert unpack(pack(as_3)) == as_3
    assert len(pack(as_3)) in (len(pack(whole)), len(pack(whole)) + 1)   # one bit
    for version in (1, 2):
        with pytest.raises(ValueError, match="cannot hold split_first_hidden"):
            pack(replace(split, version=version))


def test_unread_grid_entries_call_for_format_4_and_a_network_without_a_grid_does_not():
    """Format 4 leaves the grid entries no render reads out of the payload: a writer uses it
    exactly when there are such entries."""
    assert FORMAT_VERSION == 4
    for arch, width, height, version in (("sasnet", 192, 128, 4), ("sasnet", 128, 192, 4),
                                         ("siren", 192, 128, 2), ("femb", 192, 128, 2)):
        container = container_for(ModelConfig(arch=arch), width=width, height=height)
        assert container.version == version
        assert unpack(pack(container)) == container


def golden_container() -> Container:
    model = ModelConfig(arch="siren", channels=3, embedding_width=8, hidden_width=8,
                        hidden_layers=1, seed=1)
    return container_for(model, payload=b"\xaa\xbb\xcc\xdd", width=300, height=2)


def test_bytes_are_stable():
    """Golden bytes: any change to the layout must bump FORMAT_VERSION and update this."""
    assert pack(golden_container()).hex() == GOLDEN


def test_format_1_files_still_read():
    """The same container as format 1 wrote it: 47 bytes where format 2 takes 33."""
    data = bytes.fromhex(GOLDEN_V1)
    assert pack(replace(golden_container(), version=1)) == data
    assert version_of(data) == 1
    assert unpack(data) == replace(golden_container(), version=1)
    assert len(pack(replace(unpack(data), version=2))) == len(bytes.fromhex(GOLDEN)) == 33
    for arch in ("sasnet", "femb", "siren"):
        original = container_for(ModelConfig(arch=arch, channels=4, seed=2**31 + 5),
                                 bit_depth=16, version=1)
        assert unpack(pack(original)) == original


def test_exp_golomb_codes_round_trip_at_their_edges():
    values = [0, 1, 2, 3, 254, 255, 256, 2**31, 2**32 - 2]
    bits = _BitWriter()
    for value in values:
        bits.unsigned(value)
        bits.signed(value)
        bits.signed(-value)
    data = bits.to_bytes()
    reader = _BitReader(data, 0, len(data))
    assert [(reader.unsigned(), reader.signed(), reader.signed()) for _ in values] == [
        (v, v, -v) for v in values]


def test_a_negative_field_and_an_endless_prefix_are_refused():
    fields = dict(CONFIG_REFERENCE, seed=-1)   # the seed, at its reference 0, one below it
    header = _header_bits(2, 192, 128, 2, fields, [], 0)
    with pytest.raises(CodecError, match="out of range"):
        unpack(reseal(b"SAS\x02" + header + bytes(64)))
    with pytest.raises(CodecError, match="out of range"):   # 40 zero bits: no ue code ends
        unpack(reseal(b"SAS\x02" + bytes(5) + b"\xff" * 8))


def test_header_overhead_of_default_configs_fits_the_rate_targets_allowance():
    for width, height in ((192, 128), (768, 512), (4000, 3000)):
        for quality in (1, 5, 8):
            config = encoder_config(width, height, 3, quality).model
            container = container_for(config)
            assert len(pack(container)) - len(container.payload) <= HEADER_ALLOWANCE_BYTES


def test_wrong_magic_version_and_checksum_are_refused():
    data = pack(container_for(ModelConfig()))
    with pytest.raises(CodecError, match="signature"):
        unpack(b"PNG" + data[3:])
    future = bytearray(data)
    future[3] = 99
    with pytest.raises(CodecError, match="version 99"):
        unpack(bytes(future))
    flipped = bytearray(data)
    flipped[10] ^= 0x10
    with pytest.raises(CodecError, match="checksum"):
        unpack(bytes(flipped))
    with pytest.raises(CodecError):
        unpack(b"")
    with pytest.raises(CodecError):
        unpack(data[:-1])


def test_declared_size_above_the_limit_is_refused_before_allocating():
    data = pack(container_for(ModelConfig(), width=60000, height=60000))
    with pytest.raises(CodecError, match="limit"):
        unpack(data)
    assert unpack(data, max_pixels=60000 * 60000).header.width == 60000


def test_absurd_network_is_refused():
    huge = ModelConfig(arch="siren", embedding_width=4096, hidden_width=4096, hidden_layers=16)
    with pytest.raises(CodecError, match="parameters"):
        unpack(pack(container_for(huge)))


def test_trailing_bytes_are_refused():
    data = pack(container_for(ModelConfig()))
    with pytest.raises(CodecError, match="whole number"):   # the payload runs to the CRC
        unpack(reseal(data[:-4] + b"\x00"))
    with pytest.raises(CodecError, match="after the payload"):
        unpack(reseal(pack(container_for(ModelConfig(), version=1))[:-4] + b"\x00"))


GOLDEN = "5341530200962901c40a2fffe8a0f0a4f4a8f8acfcb100b504aabbccdd706c5ced"
GOLDEN_V1 = ("53415301ac0202120808011e2006320408fa0106020804601001283c293d2a3e2b3f2c402d4104aabbcc"
             "dd07d8cb4f")
