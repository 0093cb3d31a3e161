"""Pillow plugin: once sasnet_codec is imported, PIL.Image.open("x.sas") works.

Opening reads only the header (size and mode); the network is decoded and rendered on load().
Pillow has no 16-bit colour modes, so 16-bit files load as 8-bit colour or "I;16" gray; use
sasnet_codec.decode for full depth.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFile

from . import bitstream
from .decoder import decode
from .errors import CodecError
from .image_io import PILLOW_MODES


def _accept(prefix: bytes) -> bool:
    return prefix[:3] == bitstream.MAGIC


class SasImageFile(ImageFile.ImageFile):
    format = "SAS"
    format_description = "sasnet-codec neural image"

    def _open(self) -> None:
        self._sas_data = self.fp.read()
        try:
            header = bitstream.unpack(self._sas_data).header
        except CodecError as error:
            raise SyntaxError(str(error)) from None
        channels = header.model.channels
        self._gray16 = channels == 1 and header.bit_depth == 16
        self._mode = "I;16" if self._gray16 else PILLOW_MODES[channels]
        self._size = (header.width, header.height)
        self.tile = []

    def load(self):  # noqa: ANN201 - Pillow's own signature
        if self.tile == [] and getattr(self, "_sas_data", None) is not None:
            try:
                pixels = decode(self._sas_data)
            except CodecError as error:
                raise OSError(str(error)) from None  # what Pillow callers expect from load()
            if pixels.dtype == np.uint16 and not self._gray16:
                pixels = (pixels.astype(np.uint32) * 255 + 32767) // 65535
            raw = pixels.astype("<u2" if self._gray16 else np.uint8).tobytes()
            self.fp = io.BytesIO(raw)
            self._sas_data = None
            self.tile = [ImageFile._Tile("raw", (0, 0) + self.size, 0, (self.mode, 0, 1))]
        return super().load()


def register() -> None:
    Image.register_open(SasImageFile.format, SasImageFile, _accept)
    Image.register_extension(SasImageFile.format, ".sas")
