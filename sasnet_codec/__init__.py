"""sasnet-codec: a neural image codec that overfits a SASNet to each image.

    import sasnet_codec as sc
    result = sc.encode(pixels)                 # uint8/uint16 array [H, W, C] -> EncodeResult
    pixels = sc.decode(result.data)            # .sas bytes -> array, any size
    sc.encode_file("in.png", "out.sas"); sc.decode_file("out.sas", "out.png", scale=2)

Importing the package also registers a Pillow plugin, so PIL.Image.open("x.sas") decodes.
The encoder (and with it torch) is imported on first use: decoding on a CPU never needs it.
"""

from .config import EncoderConfig, FitConfig, ModelConfig, QuantConfig
from .decoder import decode, decode_file, decode_model, output_size
from .errors import CodecError
from .image_io import ImageData, image_from_array, load_image, save_image
from .pillow_plugin import register as _register_pillow_plugin
from .presets import DEFAULT_QUALITY, DEFAULT_RECIPE, QUALITY_LEVELS, Recipe, encoder_config

__version__ = "0.1.0"
__all__ = [
    "CodecError", "DEFAULT_QUALITY", "DEFAULT_RECIPE", "EncodeResult", "EncoderConfig",
    "FitConfig", "ImageData", "ModelConfig", "QUALITY_LEVELS", "QuantConfig", "Recipe", "decode",
    "decode_file", "decode_model", "encode", "encode_file", "encode_to_rate", "encoder_config",
    "image_from_array", "load_image", "output_size", "save_image",
]

_ENCODER_NAMES = ("EncodeResult", "encode", "encode_file", "encode_to_rate")


def __getattr__(name: str) -> object:
    """The encoder's names, imported when first asked for (PEP 562)."""
    if name in _ENCODER_NAMES:
        from . import encoder
        return getattr(encoder, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_register_pillow_plugin()
