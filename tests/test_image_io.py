import io

import numpy as np
import png
import pytest
from PIL import Image

from sasnet_codec.errors import CodecError
from sasnet_codec.image_io import image_from_array, load_image, save_image

from tests.helpers import synthetic_image


def write_png16(path, array):
    height, width, channels = array.shape
    writer = png.Writer(width=width, height=height, bitdepth=16, greyscale=channels <= 2,
                        alpha=channels in (2, 4))
    with open(path, "wb") as f:
        writer.write_array(f, array.reshape(-1))


@pytest.mark.parametrize("mode,channels", [("RGB", 3), ("L", 1), ("LA", 2), ("RGBA", 4),
                                           ("1", 1), ("CMYK", 3), ("YCbCr", 3)])
def test_pillow_modes_load_with_the_right_channels(tmp_path, mode, channels):
    rgb = Image.fromarray(synthetic_image(20, 12))
    path = tmp_path / ("x.tiff" if mode in ("CMYK", "LA") else "x.png")
    if mode == "YCbCr":
        path = tmp_path / "x.jpg"
    rgb.convert(mode).save(path)
    image = load_image(path)
    assert (image.height, image.width, image.channels) == (12, 20, channels)
    assert image.bit_depth == 8 and image.pixels.dtype == np.float32


def test_palette_with_and_without_transparency(tmp_path):
    rgb = Image.fromarray(synthetic_image(20, 12))
    palette = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette.save(tmp_path / "p.png")
    assert load_image(tmp_path / "p.png").channels == 3
    palette.info["transparency"] = 0
    palette.save(tmp_path / "pt.png", transparency=0)
    assert load_image(tmp_path / "pt.png").channels == 4


def test_16bit_png_keeps_its_depth(tmp_path):
    for channels in (1, 3, 4):
        array = synthetic_image(10, 6, channels, dtype=np.uint16)
        if channels == 1:
            Image.fromarray(array[:, :, 0]).save(tmp_path / "g.png")
            path = tmp_path / "g.png"
        else:
            path = tmp_path / f"c{channels}.png"
            write_png16(path, array)
        image = load_image(path)
        assert image.bit_depth == 16 and image.channels == channels
        restored = np.rint(image.pixels * 65535).astype(np.uint16)
        assert np.array_equal(restored, array)


def test_exif_orientation_is_applied(tmp_path):
    array = synthetic_image(20, 12)
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = 6                     # rotate 90 degrees clockwise to display
    image.save(tmp_path / "o.png", exif=exif)
    loaded = load_image(tmp_path / "o.png")
    assert (loaded.height, loaded.width) == (20, 12)
    expected = np.rot90(array, -1)
    assert np.array_equal(np.rint(loaded.pixels * 255).astype(np.uint8), expected)


def test_bad_inputs_are_codec_errors(tmp_path):
    (tmp_path / "text.png").write_text("not an image")
    (tmp_path / "empty.png").write_bytes(b"")
    for name in ("text.png", "empty.png", "missing.png"):
        with pytest.raises(CodecError):
            load_image(tmp_path / name)
    with pytest.raises(CodecError):
        load_image(tmp_path)
    truncated = io.BytesIO()
    Image.fromarray(synthetic_image(64, 64)).save(truncated, format="PNG")
    (tmp_path / "cut.png").write_bytes(truncated.getvalue()[:200])
    with pytest.raises(CodecError):
        load_image(tmp_path / "cut.png")
    with pytest.raises(CodecError):
        image_from_array(np.zeros((0, 5, 3), np.uint8))
    with pytest.raises(CodecError):
        image_from_array(np.zeros((4, 5, 7), np.uint8))


def test_save_is_atomic_and_refuses_what_it_cannot_write(tmp_path):
    array = synthetic_image(8, 8, 4)
    with pytest.raises(CodecError):
        save_image(array, tmp_path / "x.jpg")       # JPEG cannot hold alpha
    with pytest.raises(CodecError):
        save_image(array, tmp_path / "x.unknownformat")
    with pytest.raises(CodecError):
        save_image(array, tmp_path / "missing" / "x.png")
    assert list(tmp_path.iterdir()) == []           # no partial or temporary files left
    save_image(array, tmp_path / "x.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "x.png")), array)
    wide = synthetic_image(8, 8, 3, dtype=np.uint16)
    save_image(wide, tmp_path / "w.png")
    assert np.array_equal(np.rint(load_image(tmp_path / "w.png").pixels * 65535), wide)
