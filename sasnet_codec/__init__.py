"""sasnet-codec: a neural image codec that overfits a SASNet to each image.

    import sasnet_codec as sc
    result = sc.encode(pixels)                 # uint8/uint16 array [H, W, C] -> EncodeResult
    pixels = sc.decode(result.data)            # .sas bytes -> array, any size
    sc.encode_file("in.png", "out.sas"); sc.decode_file("out.sas", "out.png", scale=2)

Importing the package also registers a Pillow plugin, so PIL.Image.open("x.sas") decodes.
"""

from .codec import (EncodeResult, decode, decode_file, decode_model, encode, encode_file,
                    encode_to_rate, output_size)
from .config import EncoderConfig, FitConfig, ModelConfig, QuantConfig
from .errors import CodecError
from .image_io import ImageData, image_from_array, load_image, save_image
from .pillow_plugin import register as _register_pillow_plugin
from .presets import DEFAULT_QUALITY, DEFAULT_RECIPE, QUALITY_LEVELS, Recipe, encoder_config

__version__ = "0.1.0"
__all__ = [
    "CodecError", "DEFAULT_QUALITY", "DEFAULT_RECIPE", "EncodeResult", "EncoderConfig", "FitConfig", "ImageData",
    "ModelConfig", "QUALITY_LEVELS", "QuantConfig", "Recipe", "decode", "decode_file", "decode_model",
    "encode", "encode_file", "encode_to_rate", "encoder_config", "image_from_array", "load_image", "output_size",
    "save_image",
]

_register_pillow_plugin()
