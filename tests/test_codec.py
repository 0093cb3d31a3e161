"""End to end through the public API: real encodes of small synthetic images."""

import numpy as np
import pytest

import sasnet_codec as sc
from sasnet_codec.metrics import psnr

from tests.helpers import DEVICES, synthetic_image, tiny_config


def test_reported_numbers_are_those_of_the_decoded_file(encoded, small_image):
    decoded = sc.decode(encoded.data)
    assert decoded.shape == small_image.shape and decoded.dtype == np.uint8
    assert encoded.psnr == pytest.approx(psnr(small_image, decoded))
    assert encoded.bpp == len(encoded.data) * 8 / (small_image.shape[0] * small_image.shape[1])
    assert encoded.psnr > 20


@pytest.mark.parametrize("device", DEVICES)
def test_an_encode_on_any_device_reports_its_cpu_decode(small_image, device):
    """The reported numbers hold wherever the file is decoded: the self-check decodes on the
    CPU, and a decode on the encoding device differs by at most one level."""
    result = sc.encode(small_image, tiny_config(steps=200, device=device), progress=False)
    on_cpu = sc.decode(result.data)
    assert result.psnr == pytest.approx(psnr(small_image, on_cpu)) and result.psnr > 20
    on_device = sc.decode(result.data, device=device).astype(int)
    assert np.abs(on_device - on_cpu).max() <= 1


def test_two_decodes_give_identical_bytes(encoded):
    assert np.array_equal(sc.decode(encoded.data), sc.decode(encoded.data))


def test_decode_at_other_sizes(encoded, small_image):
    height, width = small_image.shape[:2]
    assert sc.decode(encoded.data, width=2 * width).shape == (2 * height, 2 * width, 3)
    assert sc.decode(encoded.data, height=height // 2).shape == (height // 2, width // 2, 3)
    assert sc.decode(encoded.data, width=7, height=30).shape == (30, 7, 3)
    assert sc.decode(encoded.data, scale=1.5).shape == (height * 3 // 2, width * 3 // 2, 3)
    with pytest.raises(sc.CodecError):
        sc.decode(encoded.data, scale=2, width=4)
    with pytest.raises(sc.CodecError, match="limit"):
        sc.decode(encoded.data, scale=100, max_pixels=10_000)


@pytest.mark.parametrize("channels,dtype", [(1, np.uint8), (4, np.uint8), (3, np.uint16)])
def test_gray_alpha_and_16bit_images(channels, dtype):
    image = synthetic_image(16, 12, channels, dtype)
    result = sc.encode(image, tiny_config(steps=40, finetune=5), progress=False)
    decoded = sc.decode(result.data)
    assert decoded.shape == image.shape and decoded.dtype == dtype
    assert result.psnr == pytest.approx(psnr(image, decoded))


def test_bpp_target_lands_within_10_percent():
    image = synthetic_image(48, 32)
    target = 3.0
    quick = sc.Recipe(fit_steps=(120,) * 8, finetune_steps=10, stage_steps=(10,) * 8)
    result = sc.encode_to_rate(image, target, device="cpu", recipe=quick, progress=False)
    assert abs(result.bpp - target) <= 0.1 * target


def test_siren_and_embedding_only_architectures_round_trip(small_image):
    for arch in ("siren", "femb"):
        result = sc.encode(small_image, tiny_config(steps=30, finetune=5, arch=arch),
                           progress=False)
        assert sc.decode(result.data).shape == small_image.shape


def test_file_api(tmp_path, small_image):
    from PIL import Image

    Image.fromarray(small_image).save(tmp_path / "in.png")
    result = sc.encode_file(tmp_path / "in.png", tmp_path / "out.sas", tiny_config(),
                            progress=False)
    assert (tmp_path / "out.sas").read_bytes() == result.data
    pixels = sc.decode_file(tmp_path / "out.sas", tmp_path / "back.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "back.png")), pixels)
    with pytest.raises(sc.CodecError, match="input"):
        sc.decode_file(tmp_path / "out.sas", tmp_path / "out.sas")
    with pytest.raises(sc.CodecError, match="either a config or a bpp target"):
        sc.encode_file(tmp_path / "in.png", tmp_path / "out.sas", tiny_config(), target_bpp=2)
    assert (tmp_path / "out.sas").read_bytes() == result.data


def test_pillow_plugin_opens_sas_files(tmp_path, encoded):
    from PIL import Image

    (tmp_path / "x.sas").write_bytes(encoded.data)
    with Image.open(tmp_path / "x.sas") as image:
        assert image.format == "SAS" and image.mode == "RGB"
        assert np.array_equal(np.asarray(image), sc.decode(encoded.data))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["reference.sas", "reference-v1.sas", "reference-v5.sas"])
def test_a_committed_file_still_decodes_to_its_committed_pixels(device, name):
    """Pins the decoder: a file written by an earlier build, in format 2, 1 or 5, must
    decode to the same image (within one level, for float differences between math libraries
    and devices)."""
    from pathlib import Path

    from PIL import Image

    data = Path(__file__).parent / "data"
    decoded = sc.decode((data / name).read_bytes(), device=device).astype(int)
    expected = np.asarray(Image.open(data / "reference_decoded.png")).astype(int)
    assert decoded.shape == expected.shape
    assert np.abs(decoded - expected).max() <= 1
    assert np.mean(decoded == expected) > 0.99


def test_a_split_first_layer_fits_alike_and_codes_each_part_with_its_own_step(small_image):
    """The split changes nothing before the step search (the same float fit, rate term
    included), then each part of the first hidden layer gets a step and scale of its own in a
    file that decodes to the reported numbers."""
    base = tiny_config(steps=200, finetune=5)
    base = base.replace(fit=base.fit.replace(rate_weight=0.1),
                        quant=base.quant.replace(stage_steps=5, stage_splits=2))
    split = base.replace(model=base.model.replace(split_first_hidden=1))
    whole_result, split_result = (sc.encode(small_image, config, progress=False)
                                  for config in (base, split))
    assert split_result.fit_psnr == whole_result.fit_psnr
    container = sc.bitstream.unpack(split_result.data)
    names = [name for name, _ in sc.layout.parameter_shapes(container.header.model)]
    assert names[1:4] == ["hidden0.weight_low", "hidden0.weight_high", "hidden0.bias"]
    assert len(container.sections) == len(sc.bitstream.unpack(whole_result.data).sections) + 1
    assert split_result.psnr == pytest.approx(psnr(small_image, sc.decode(split_result.data)))
    assert split_result.psnr > 20


def test_a_file_leaves_out_the_grid_entries_no_render_reads(encoded, small_image):
    """The file (format 5) codes only the grid entries a render of the 3:2 image can read;
    written in format 3 instead (every entry coded) or 4 (the longer header and payload end),
    the same network decodes to the same pixels at any size, in more bytes."""
    from sasnet_codec.decoder import decode_container
    from sasnet_codec.encoder import repack

    container, tensors = decode_container(encoded.data)
    assert container.version == 5
    coded = sc.bitstream.coded_elements(container.header, 5)["grid.table"]
    table = next(tensor for tensor in tensors if tensor.name == "grid.table")
    assert len(coded) < table.symbols.size
    assert not np.delete(table.symbols, coded).any()   # the rest decode as zero
    in_format_3, in_format_4 = (repack(encoded.data, version=v) for v in (3, 4))
    assert sc.bitstream.version_of(in_format_3) == 3
    assert len(in_format_3) > len(in_format_4) > len(encoded.data)
    for size in ({}, {"scale": 2.5}, {"width": 7, "height": 30}):
        expected = sc.decode(encoded.data, **size)
        assert all(np.array_equal(sc.decode(older, **size), expected)
                   for older in (in_format_3, in_format_4))
