"""What a .sas file holds, for `sasnet-codec info`: header fields, rates and section sizes."""

from __future__ import annotations

from typing import Any

from .bitstream import DEFAULT_MAX_PIXELS
from .decoder import decode_container
from .entropy import laplace_bits
from .metrics import bits_per_pixel
from .layout import parameter_count
from .tables import laplace_scale, quantization_step


def describe(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> dict[str, Any]:
    """Plain-data summary of a .sas file (raises CodecError on a bad file).

    Sections share one range-coder stream, so per-section sizes are each section's ideal code
    length under its Laplace model; their sum is within a fraction of a percent of the payload.
    """
    container, tensors = decode_container(data, max_pixels)
    header = container.header
    sections = []
    for tensor, coding in zip(tensors, container.sections):
        symbols = tensor.coded_symbols()
        sections.append({
            "name": tensor.name, "shape": list(tensor.shape), "step": quantization_step(
                coding.step_index), "step_index": coding.step_index,
            "laplace_scale": laplace_scale(coding.scale_index), "scale_index": coding.scale_index,
            "coded_elements": len(symbols),
            "estimated_bytes": round(laplace_bits(symbols, coding.scale_index) / 8, 1),
        })
    return {
        "format_version": container.version,
        "width": header.width, "height": header.height, "channels": header.model.channels,
        "bit_depth": header.bit_depth, "model": header.model.to_dict(),
        "parameters": parameter_count(header.model),
        "file_bytes": len(data), "header_bytes": len(data) - len(container.payload),
        "payload_bytes": len(container.payload),
        "bpp": bits_per_pixel(len(data), header.width, header.height),
        "sections": sections,
    }
