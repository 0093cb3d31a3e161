"""decode(bytes) -> image: container -> symbols -> dequantized weights -> network -> render.

Torch-free on a CPU: the network is numpy_model.NumpySASNet, so `import sasnet_codec` and a
command-line decode never load torch. A decode on another device builds the encoder's
model.SASNet there instead (the only place this module imports torch).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from . import bitstream
from .bitstream import DEFAULT_MAX_PIXELS, Container, Header
from .coords import domain_extent
from .entropy import decode_sections
from .errors import CodecError
from .files import check_paths, read_input_file
from .image_io import save_image
from .layout import parameter_shapes
from .numpy_model import NumpySASNet
from .render import Network, render
from .tables import quantization_step

if TYPE_CHECKING:
    from .model import SASNet


@dataclass(frozen=True)
class QuantizedTensor:
    """One coded tensor: its integer symbols and the index of its quantization step."""

    name: str
    shape: tuple[int, ...]
    step_index: int
    symbols: np.ndarray      # int32, flat, row-major
    coded: np.ndarray | None = None   # the elements its file codes (None: all; the rest are 0)

    def coded_symbols(self) -> np.ndarray:
        """The symbols its file's section holds."""
        return self.symbols if self.coded is None else self.symbols[self.coded]

    def values(self) -> np.ndarray:
        """The dequantized float32 array: one float32 product per symbol, bit-identical on
        encoder and decoder."""
        step = np.float32(quantization_step(self.step_index))
        return (self.symbols.astype(np.float32) * step).reshape(self.shape)


def decode_container(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS
                     ) -> tuple[Container, list[QuantizedTensor]]:
    """The parsed container and every tensor's decoded symbols (zero where not coded)."""
    container = bitstream.unpack(data, max_pixels)
    shapes = parameter_shapes(container.header.model)
    coded = bitstream.coded_elements(container.header, container.version)
    layout = [(len(coded[name]) if name in coded else math.prod(shape), section.scale_index)
              for (name, shape), section in zip(shapes, container.sections)]
    trimmed = container.version >= bitstream.TRIMMED_PAYLOAD_SINCE
    decoded = decode_sections(container.payload, layout, big_endian_trimmed=trimmed)
    tensors = []
    for (name, shape), section, values in zip(shapes, container.sections, decoded):
        if name in coded:
            values, held = np.zeros(math.prod(shape), np.int32), values
            values[coded[name]] = held
        tensors.append(QuantizedTensor(name, shape, section.step_index, values,
                                       coded.get(name)))
    return container, tensors


def decode_model(data: bytes, device: str = "cpu", max_pixels: int = DEFAULT_MAX_PIXELS
                 ) -> tuple[Header, SASNet]:
    """The header and the network as the encoder's torch module (model.SASNet) on `device`:
    to render on a GPU, or to inspect or train further. Imports torch."""
    from .device import resolve_device
    from .model import SASNet
    from .quantize import load_quantized

    container, tensors = decode_container(data, max_pixels)
    model = SASNet(container.header.model, device="cpu", grid_backend="torch")
    load_quantized(model, tensors)
    return container.header, model.to(resolve_device(device)).eval()


def decode_network(data: bytes, device: str = "cpu", max_pixels: int = DEFAULT_MAX_PIXELS
                   ) -> tuple[Header, Network]:
    """The header and a network to render: numpy on a CPU, torch on any other device."""
    if device != "cpu":
        return decode_model(data, device, max_pixels)
    container, tensors = decode_container(data, max_pixels)
    weights = {tensor.name: tensor.values() for tensor in tensors}
    return container.header, NumpySASNet(container.header.model, weights)


def output_size(header: Header, width: int | None, height: int | None,
                scale: float | None) -> tuple[int, int]:
    """The render size: native, a scale factor, or one/both of width and height (one of them
    alone keeps the aspect ratio)."""
    if scale is not None and (width is not None or height is not None):
        raise CodecError("give either a scale or a width/height, not both")
    if scale is not None:
        if not (math.isfinite(scale) and scale > 0):
            raise CodecError("the scale must be a positive number")
        width, height = round(header.width * scale), round(header.height * scale)
    elif width is not None and height is None:
        height = round(width * header.height / header.width)
    elif height is not None and width is None:
        width = round(height * header.width / header.height)
    elif width is None and height is None:
        width, height = header.width, header.height
    if width < 1 or height < 1:
        raise CodecError(f"the output size {width}x{height} has no pixels")
    return width, height


def decode(data: bytes, width: int | None = None, height: int | None = None,
           scale: float | None = None, device: str = "cpu",
           max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode .sas bytes to an integer image [H, W, C] (uint8, or uint16 for 16-bit sources),
    at the native size or the one requested."""
    header, network = decode_network(data, device, max_pixels)
    out_width, out_height = output_size(header, width, height, scale)
    if out_width * out_height > max_pixels:
        raise CodecError(f"a {out_width}x{out_height} render is above the limit of {max_pixels} "
                         "pixels; raise max_pixels to allow it")
    extent = domain_extent(header.width, header.height)
    return render(network, out_width, out_height, extent, header.bit_depth)


def decode_file(input_path: str | os.PathLike, output_path: str | os.PathLike,
                width: int | None = None, height: int | None = None, scale: float | None = None,
                device: str = "cpu", max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode a .sas file to an image file whose format follows the extension."""
    check_paths(input_path, output_path)
    pixels = decode(read_input_file(input_path), width, height, scale, device, max_pixels)
    save_image(pixels, output_path)
    return pixels
