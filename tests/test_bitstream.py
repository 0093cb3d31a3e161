import math
from dataclasses import replace

import numpy as np

import pytest

from sasnet_codec.bitstream import (CONFIG_REFERENCE, FORMAT_VERSION, WRITTEN_VERSIONS,
                                    Container, Header, SectionCoding, _BitReader, _BitWriter,
                                    _header_bits, coded_elements, pack, section_reference,
                                    unpack, version_of)
from sasnet_codec.config import ModelConfig
from sasnet_codec.errors import CodecError
from sasnet_codec.layout import parameter_shapes
from sasnet_codec.decoder import QuantizedTensor
from sasnet_codec.encoder import HEADER_ALLOWANCE_BYTES, pack_tensors
from sasnet_codec.presets import encoder_config

from tests.helpers import reseal


def container_for(model: ModelConfig, payload: bytes = b"\x01\x02\x03\x04" * 3,
                  width: int = 192, height: int = 128, bit_depth: int = 8,
                  version: int = FORMAT_VERSION) -> Container:
    """A container of made-up codings in format `version`."""
    sections = tuple(SectionCoding(40 + i, 60 + i) for i in range(len(parameter_shapes(model))))
    return Container(Header(width, height, bit_depth, model), sections, payload, version)


def test_round_trip():
    for arch in ("sasnet", "femb", "siren"):
        for channels, depth in ((1, 16), (3, 8), (4, 8)):
            model = ModelConfig(arch=arch, channels=channels, seed=2**31 + 5)
            for version in WRITTEN_VERSIONS:
                original = container_for(model, bit_depth=depth, version=version)
                assert unpack(pack(original)) == original


def tensors_for(model: ModelConfig, step_offset: int = 0) -> list[QuantizedTensor]:
    """Laplace symbols for every tensor, at steps `step_offset` from format 5's references."""
    rng = np.random.default_rng(0)
    return [QuantizedTensor(name, shape, section_reference(name)[0] + step_offset,
                            np.rint(rng.laplace(0, 4, math.prod(shape))).astype(np.int32))
            for name, shape in parameter_shapes(model)]


def test_a_writer_uses_the_format_that_holds_the_network_in_fewest_bytes():
    """The oldest of equals: a network format 2 holds as well stays format 2 byte for byte
    (older decoders read it) unless a newer format is smaller. Format 3 adds
    split_first_hidden; format 4 leaves out the grid entries no render of a 3:2 image reads;
    format 5 codes typical steps and scales in fewer bits."""
    for arch, split, width, version in (("siren", 0, 128, 2), ("sasnet", 0, 128, 2),
                                        ("sasnet", 1, 128, 3), ("sasnet", 0, 192, 4)):
        model = ModelConfig(arch=arch, split_first_hidden=split)
        header = Header(width, 128, 8, model)
        far = pack_tensors(tensors_for(model, step_offset=90), header)   # format 5 pays more
        assert version_of(far) == version
        assert far == pack_tensors(tensors_for(model, step_offset=90), header, version)
        typical = pack_tensors(tensors_for(model), header)
        assert version_of(typical) == 5
        assert all(len(typical) < len(pack_tensors(tensors_for(model), header, older))
                   for older in range(version, 5))
    split = container_for(ModelConfig(split_first_hidden=1))
    for version in (1, 2):
        with pytest.raises(ValueError, match="cannot hold split_first_hidden"):
            pack(replace(split, version=version))


def test_formats_from_4_on_leave_unread_grid_entries_out_and_a_network_without_a_grid_not():
    for arch, width, height, leaves_out in (("sasnet", 192, 128, True),
                                            ("sasnet", 128, 192, True),
                                            ("sasnet", 128, 128, False),
                                            ("siren", 192, 128, False)):
        header = Header(width, height, 8, ModelConfig(arch=arch))
        assert not coded_elements(header, 3)
        assert bool(coded_elements(header, 4)) == leaves_out
        assert coded_elements(header, 5).keys() == coded_elements(header, 4).keys()


def test_format_5_codes_section_codings_against_references():
    """Indices at their references cost 4 bits each (Exp-Golomb of order 3) instead of 8."""
    model = ModelConfig()
    names = [name for name, _ in parameter_shapes(model)]
    at_reference = tuple(SectionCoding(i, v + 2 * i) for i, v in map(section_reference, names))
    base = container_for(model, version=5)
    near, as_4 = replace(base, sections=at_reference), replace(base, sections=at_reference,
                                                                version=4)
    assert unpack(pack(near)) == near and unpack(pack(as_4)) == as_4
    assert len(pack(as_4)) - len(pack(near)) == len(names)   # 16 bits against 8 per tensor


def golden_container() -> Container:
    model = ModelConfig(arch="siren", channels=3, embedding_width=8, hidden_width=8,
                        hidden_layers=1, seed=1)
    return container_for(model, payload=b"\xaa\xbb\xcc\xdd", width=300, height=2)


def test_bytes_are_stable():
    """Golden bytes: any change to the layout must bump FORMAT_VERSION and update this."""
    assert pack(replace(golden_container(), version=2)).hex() == GOLDEN
    assert pack(golden_container()).hex() == GOLDEN_V5


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
    values = [0, 1, 2, 3, 7, 8, 9, 254, 255, 256, 2**31, 2**32 - 2]
    for order in (0, 3):
        bits = _BitWriter()
        for value in values:
            bits.unsigned(value, order)
            bits.signed(value, order)
            bits.signed(-value, order)
        data = bits.to_bytes()
        reader = _BitReader(data, 0, len(data))
        assert [(reader.unsigned(order), reader.signed(order), reader.signed(order))
                for _ in values] == [(v, v, -v) for v in values]


def test_a_negative_field_and_an_endless_prefix_are_refused():
    fields = dict(CONFIG_REFERENCE, seed=-1)   # the seed, at its reference 0, one below it
    header = _header_bits(2, 192, 128, 2, fields, [], 0)
    with pytest.raises(CodecError, match="out of range"):
        unpack(reseal(b"SAS\x02" + header + bytes(64)))
    with pytest.raises(CodecError, match="out of range"):   # 40 zero bits: no ue code ends
        unpack(reseal(b"SAS\x02" + bytes(5) + b"\xff" * 8))


def test_a_format_5_step_or_scale_beyond_its_table_is_refused():
    model = ModelConfig(arch="siren", hidden_layers=1)
    for step, value in ((-1, 0), (256, 0), (10, 300), (10, -30)):
        sections = [(name, step, value + 2 * step) for name, _ in parameter_shapes(model)]
        header = _header_bits(5, 8, 8, 2 | 2 << 3, model.to_dict(), sections, 0)
        with pytest.raises(CodecError, match="out of range"):
            unpack(reseal(b"SAS\x05" + header + b"\x01"))
        sections = tuple(SectionCoding(step, value + 2 * step) for _ in sections)
        with pytest.raises(ValueError, match="outside its table"):   # nor is it written
            pack(Container(Header(8, 8, 8, model), sections, b"\x01", 5))
    with pytest.raises(ValueError, match="trimmed"):
        pack(container_for(model, payload=b"\x01\x00", version=5))


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
    for version, error in ((2, "whole number"), (5, "ends in a zero byte")):
        data = pack(container_for(ModelConfig(), version=version))
        with pytest.raises(CodecError, match=error):   # the payload runs to the CRC
            unpack(reseal(data[:-4] + b"\x00"))
    with pytest.raises(CodecError, match="after the payload"):
        unpack(reseal(pack(container_for(ModelConfig(), version=1))[:-4] + b"\x00"))


GOLDEN = "5341530200962901c40a2fffe8a0f0a4f4a8f8acfcb100b504aabbccdd706c5ced"
GOLDEN_V5 = "5341530500962901c40a2fffea320a43a16894238ac5a222224780aabbccdd1f128249"
GOLDEN_V1 = ("53415301ac0202120808011e2006320408fa0106020804601001283c293d2a3e2b3f2c402d4104aabbcc"
             "dd07d8cb4f")
