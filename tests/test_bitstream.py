import pytest

from sasnet_codec.bitstream import Container, Header, SectionCoding, pack, unpack
from sasnet_codec.config import ModelConfig
from sasnet_codec.errors import CodecError
from sasnet_codec.layout import parameter_shapes
from sasnet_codec.presets import encoder_config

from tests.helpers import reseal


def container_for(model: ModelConfig, payload: bytes = b"\x01\x02\x03\x04" * 3,
                  width: int = 192, height: int = 128, bit_depth: int = 8) -> Container:
    sections = tuple(SectionCoding(40 + i, 60 + i) for i in range(len(parameter_shapes(model))))
    return Container(Header(width, height, bit_depth, model), sections, payload)


def test_round_trip():
    for arch in ("sasnet", "femb", "siren"):
        for channels, depth in ((1, 16), (3, 8), (4, 8)):
            model = ModelConfig(arch=arch, channels=channels, seed=2**31 + 5)
            original = container_for(model, bit_depth=depth)
            assert unpack(pack(original)) == original


def test_bytes_are_stable():
    """Golden bytes: any change to the layout must bump FORMAT_VERSION and update this."""
    model = ModelConfig(arch="siren", channels=3, embedding_width=8, hidden_width=8,
                        hidden_layers=1, seed=1)
    data = pack(container_for(model, payload=b"\xaa\xbb\xcc\xdd", width=300, height=2))
    assert data.hex() == GOLDEN


def test_header_overhead_of_default_configs_is_at_most_64_bytes():
    for width, height in ((192, 128), (768, 512), (4000, 3000)):
        config = encoder_config(width, height, 3).model
        assert container_for(config).overhead_bytes <= 64


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
    with pytest.raises(CodecError):
        unpack(reseal(data[:-4] + b"\x00"))


GOLDEN = ("53415301ac0202120808011e2006320408fa0106020804601001283c293d2a3e2b3f2c402d4104aabbcc"
          "dd07d8cb4f")
