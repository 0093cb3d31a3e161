"""encode(image) -> .sas bytes: the encoder's pipeline, wired (decoder.py is the other way).

    image -> fit (float) -> step search -> staged rounding -> quantization-aware fine-tune
          -> symbols -> entropy coding -> container bytes -> (decoded again, to report)
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, replace

import numpy as np

from . import bitstream
from .bitstream import Container, Header, SectionCoding
from .config import EncoderConfig
from .decoder import QuantizedTensor, decode, decode_container
from .device import resolve_device
from .entropy import Section, best_scale_index, encode_sections
from .errors import CodecError
from .files import check_paths, write_atomically
from .fit import Targets, fit
from .image_io import ImageData, image_from_array, load_image, to_integer_array
from .layout import parameter_count
from .metrics import bits_per_pixel, psnr
from .model import SASNet
from .presets import (DEFAULT_QUALITY, DEFAULT_RECIPE, EXPECTED_BITS_PER_PARAMETER, Recipe,
                      budget_config, encoder_config)
from .quantize import (Candidate, StepSearch, finetune_quantized, quantize_model,
                       round_in_stages)

HEADER_ALLOWANCE_BYTES = 56
"""Header bytes set aside when sizing a network for a rate target (the presets' headers, CRC
included, take 32-55 bytes, from Kodak-mini to 12 Mpixel; a test pins every preset's)."""


@dataclass(frozen=True)
class EncodeResult:
    data: bytes            # the .sas file
    bpp: float             # file bytes * 8 / pixels
    psnr: float            # dB, of the decoded file against the input, at the input's depth
    fit_psnr: float        # dB, of the float network before quantization
    parameters: int
    seconds: float


def encode(image: ImageData | np.ndarray, config: EncoderConfig | None = None,
           progress: bool = True) -> EncodeResult:
    """Fit, quantize and entropy-code one image; `config` (default: the default quality preset
    for this image) decides everything."""
    image = _as_image(image)
    start = time.perf_counter()
    if config is None:
        config = encoder_config(image.width, image.height, image.channels)
    if config.model.channels != image.channels:
        config = config.replace(model=config.model.replace(channels=image.channels))
    bitstream.check_limits(image.width, image.height, config.model)
    targets = Targets.from_image(image, resolve_device(config.fit.device))
    model, fit_psnr, search = _fit_and_search(image, config, targets, progress)
    return _finish(image, config, targets, model, fit_psnr,
                   search.at_slope(config.quant.rd_slope), start, progress)


def encode_to_rate(image: ImageData | np.ndarray, target_bpp: float, arch: str = "sasnet",
                   seed: int = 0, device: str = "auto", recipe: Recipe = DEFAULT_RECIPE,
                   progress: bool = True, attempts: int = 3) -> EncodeResult:
    """Fit, quantize and entropy-code one image to about `target_bpp` (within ~10%).

    The network is sized for the rate and fitted with the settings of the `recipe`'s preset
    nearest that size; it is refitted (at most `attempts` times in all) while its natural rate
    misses by over 20%, and the quantization steps then land on the target (header bytes set
    aside).
    """
    image = _as_image(image)
    start = time.perf_counter()
    if not (math.isfinite(target_bpp) and target_bpp > 0):
        raise CodecError("the bpp target must be a positive number")
    payload_bits = target_bpp * image.width * image.height - 8 * HEADER_ALLOWANCE_BYTES
    if payload_bits < 8 * 256:
        raise CodecError(f"a {target_bpp} bpp target leaves too few bytes for any network")
    targets = Targets.from_image(image, resolve_device(device))
    budget = round(payload_bits / EXPECTED_BITS_PER_PARAMETER)
    for attempt in range(attempts):
        config = budget_config(image.width, image.height, image.channels, budget, arch, seed,
                               device, recipe)
        bitstream.check_limits(image.width, image.height, config.model)
        model, fit_psnr, search = _fit_and_search(image, config, targets, progress)
        ratio = payload_bits / search.totals(search.at_slope(config.quant.rd_slope))[1]
        if 0.8 <= ratio <= 1.25 or attempt == attempts - 1:
            return _finish(image, config, targets, model, fit_psnr,
                           search.at_bits(0.98 * payload_bits), start, progress)
        budget = max(100, round(budget * ratio))
    raise AssertionError("unreachable")


def _as_image(image: ImageData | np.ndarray) -> ImageData:
    return image if isinstance(image, ImageData) else image_from_array(image)


def _fit_and_search(image: ImageData, config: EncoderConfig, targets: Targets,
                    progress: bool) -> tuple[SASNet, float, StepSearch]:
    """The fitted network and its steps' rates and distortions, each rate that of the
    elements the file will code."""
    result = fit(image, config.model, config.fit, progress, targets)
    header = Header(image.width, image.height, image.bit_depth, config.model)
    # rates the newest format's coded elements (an older one is written only if no larger)
    search = StepSearch(result.model, targets.sample(config.quant.search_pixels, config.fit.seed),
                        bitstream.coded_elements(header, bitstream.FORMAT_VERSION))
    return result.model, result.psnr, search


def _finish(image: ImageData, config: EncoderConfig, targets: Targets, model: SASNet,
            fit_psnr: float, choice: dict[str, Candidate], start: float,
            progress: bool) -> EncodeResult:
    """Round and fine-tune at the chosen steps, write the file, and measure it by decoding
    it."""
    steps = {name: candidate.step_index for name, candidate in choice.items()}
    round_in_stages(model, steps, targets, config.quant, config.fit, progress)
    finetune_quantized(model, steps, targets, config.quant, config.fit, progress)
    data = pack_model(model, steps, image)
    reference = to_integer_array(image.pixels, image.bit_depth)
    return EncodeResult(
        data=data, bpp=bits_per_pixel(len(data), image.width, image.height),
        psnr=psnr(reference, decode(data)), fit_psnr=fit_psnr,
        parameters=parameter_count(model.config), seconds=time.perf_counter() - start)


def pack_model(model: SASNet, step_indices: dict[str, int], image: ImageData) -> bytes:
    """Quantize with the chosen steps and write the container."""
    header = Header(image.width, image.height, image.bit_depth, model.config)
    return pack_tensors(quantize_model(model, step_indices), header)


def pack_tensors(tensors: list[QuantizedTensor], header: Header, version: int | None = None
                 ) -> bytes:
    """The file of these tensors in format `version`, by default in the format that holds them
    in the fewest bytes (the oldest of equals, which older decoders read too): each section's
    symbols entropy-coded at their best Laplace scale."""
    if version is None:
        return min((pack_tensors(tensors, header, held)
                    for held in bitstream.versions_holding(header.model)), key=len)
    coded = bitstream.coded_elements(header, version)
    symbols = [replace(t, coded=coded.get(t.name)).coded_symbols() for t in tensors]
    scales = [best_scale_index(part) for part in symbols]
    payload = encode_sections([Section(part, scale) for part, scale in zip(symbols, scales)],
                              version >= bitstream.TRIMMED_PAYLOAD_SINCE)
    sections = tuple(SectionCoding(t.step_index, scale) for t, scale in zip(tensors, scales))
    return bitstream.pack(Container(header, sections, payload, version))


def repack(data: bytes, version: int | None = None) -> bytes:
    """A .sas file's network written again in format `version` (by default the one a writer
    uses now): to measure what a format saves, or to carry files across a format change."""
    container, tensors = decode_container(data)
    return pack_tensors(tensors, container.header, version)


def encode_file(input_path: str | os.PathLike, output_path: str | os.PathLike,
                config: EncoderConfig | None = None, *, quality: int = DEFAULT_QUALITY,
                arch: str = "sasnet", seed: int = 0, device: str = "auto",
                recipe: Recipe = DEFAULT_RECIPE, target_bpp: float | None = None,
                progress: bool = True) -> EncodeResult:
    """Encode an image file to a .sas file, written atomically; the input is never touched.

    Without `config`, the `recipe`'s preset for `quality` (and `arch`, `seed`, `device`) is
    sized to the image; with `target_bpp` (and no `config`) the network is sized for that rate
    instead (see encode_to_rate).
    """
    if config is not None and target_bpp is not None:
        raise CodecError("give either a config or a bpp target, not both")
    check_paths(input_path, output_path)
    image = load_image(input_path)
    if target_bpp is not None:
        result = encode_to_rate(image, target_bpp, arch, seed, device, recipe, progress)
    else:
        if config is None:
            config = encoder_config(image.width, image.height, image.channels, quality, arch,
                                    seed, device, recipe=recipe)
        result = encode(image, config, progress)
    write_atomically(output_path, lambda stream: stream.write(result.data))
    return result
