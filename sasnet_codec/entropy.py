"""Entropy coding of integer symbols: the only module that imports constriction.

Each section (one tensor) is coded with a zero-mean quantized Laplace model whose scale is an
index into `tables.laplace_scale`, chosen by the encoder to minimise that section's exact code
length. All sections share one range-coder stream, so the file pays for one flush, not one per
tensor. The stream is a string of 32-bit words: little-endian (formats 1-4), or big-endian and
trimmed (format 5): its last bytes set to zero wherever decoding allows, then left out, since a
decoder puts zero bytes back up to a whole word.
"""

from __future__ import annotations

from dataclasses import dataclass

import constriction
import numpy as np

from .errors import CodecError
from .tables import LAPLACE_SCALE_COUNT, laplace_scale

FINAL_STATE_BYTES = 8
"""The range coder's final state is two 32-bit words: at most these last bytes of a stream are
slack that trimming may round to zero."""
SYMBOL_LIMIT = 32767
"""Symbols lie in [-SYMBOL_LIMIT, SYMBOL_LIMIT]; the quantizer never picks a step that
exceeds it. The wide support costs under 0.01 bit per symbol (constriction gives each symbol
at least one unit of its 24-bit probability)."""


@dataclass(frozen=True)
class Section:
    symbols: np.ndarray      # int32, flat
    scale_index: int


def _model(scale_index: int):
    return constriction.stream.model.QuantizedLaplace(
        -SYMBOL_LIMIT, SYMBOL_LIMIT, mean=0.0, scale=laplace_scale(scale_index))


def laplace_bits(symbols: np.ndarray, scale_index: int) -> float:
    """Ideal code length (bits) of symbols under the zero-mean Laplace of table scale
    `scale_index`, integrated over unit bins. Matches the coder to well under 1% and needs no
    coder run."""
    scale = laplace_scale(scale_index)
    magnitude = np.abs(np.asarray(symbols, dtype=np.float64))
    # P(|q| = 0) = 1 - e^{-0.5/b};  P(q = +-m) = 0.5 e^{-m/b} (e^{0.5/b} - e^{-0.5/b})
    half = 0.5 / scale
    p_zero = -np.expm1(-half)
    log_tail = np.log(0.5) - magnitude / scale + np.log(np.exp(half) - np.exp(-half))
    log_p = np.where(magnitude == 0, np.log(max(p_zero, 1e-300)), log_tail)
    return float(-log_p.sum() / np.log(2))


def _best_coding(symbols: np.ndarray) -> tuple[float, int]:
    """(bits, scale index) of the table scale that codes these symbols in the fewest bits
    (the lowest index on a tie), searched around a guess from their mean magnitude."""
    mean_magnitude = float(np.mean(np.abs(symbols))) if symbols.size else 0.0
    guess = int(48 + 16 * np.log2(max(mean_magnitude, 0.125)))
    guess = min(max(guess, 8), LAPLACE_SCALE_COUNT - 9)
    return min((laplace_bits(symbols, j), j) for j in range(guess - 8, guess + 9))


def best_scale_index(symbols: np.ndarray) -> int:
    """The table scale that codes these symbols in the fewest bits."""
    return _best_coding(symbols)[1]


def best_bits(symbols: np.ndarray) -> float:
    """Code length of symbols under their best table scale: what the coder will spend."""
    return _best_coding(symbols)[0]


def encode_sections(sections: list[Section], big_endian_trimmed: bool = False) -> bytes:
    """All sections, in order, as one range-coded byte string: little-endian words, or
    (`big_endian_trimmed`, format 5) big-endian words ending on as few bytes as decode alike."""
    encoder = constriction.stream.queue.RangeEncoder()
    for section in sections:
        symbols = np.ascontiguousarray(section.symbols, dtype=np.int32)
        if symbols.size and int(np.abs(symbols).max()) > SYMBOL_LIMIT:
            raise ValueError("symbol outside the coder's range")
        if symbols.size:
            encoder.encode(symbols, _model(section.scale_index))
    words = encoder.get_compressed()
    if not big_endian_trimmed:
        return words.astype("<u4").tobytes()
    return _trimmed(words.astype(">u4").tobytes(), sections)


def _trimmed(stream: bytes, sections: list[Section]) -> bytes:
    """The stream, read as one big-endian number, rounded down or up to a multiple of 256^k
    for the largest k that still decodes every symbol, its zero bytes then cut off the end (a
    decoder reads zeros past the end: constriction's range decoder reads missing words as
    zero, and a test pins it). The values that decode alike form one interval around the
    stream's (the coder's final range), so k works only if the nearest multiples below and
    above do, and every smaller k works too: a binary search over k, each step checked by
    decoding."""
    layout = [(len(section.symbols), section.scale_index) for section in sections]
    value, length = int.from_bytes(stream, "big"), len(stream)

    def rounded(count: int) -> bytes | None:
        """The stream rounded to a multiple of 256^count that decodes alike, trimmed."""
        unit = 256 ** count
        for candidate in (value // unit * unit, (value // unit + 1) * unit):
            if candidate >= 256 ** length:
                continue
            short = candidate.to_bytes(length, "big").rstrip(b"\0")
            try:
                decoded = decode_sections(short, layout, big_endian_trimmed=True)
            except CodecError:
                continue
            if all(np.array_equal(d, s.symbols) for d, s in zip(decoded, sections)):
                return short
        return None

    best, low, high = stream, 1, min(FINAL_STATE_BYTES, length)
    while low <= high:   # when no k works, the stream's last byte is not zero: kept whole
        middle = (low + high) // 2
        short = rounded(middle)
        if short is None:
            high = middle - 1
        else:
            best, low = short, middle + 1
    return best


def decode_sections(payload: bytes, layout: list[tuple[int, int]],
                    big_endian_trimmed: bool = False) -> list[np.ndarray]:
    """Inverse of encode_sections; layout lists (symbol count, scale index) per section."""
    if big_endian_trimmed:
        words = np.frombuffer(payload + bytes(-len(payload) % 4), dtype=">u4")
    elif len(payload) % 4:
        raise CodecError("corrupt payload: its length is not a whole number of 32-bit words")
    else:
        words = np.frombuffer(payload, dtype="<u4")
    try:
        decoder = constriction.stream.queue.RangeDecoder(words.astype(np.uint32))
        return [
            decoder.decode(_model(scale), count).astype(np.int32) if count
            else np.zeros(0, np.int32)
            for count, scale in layout
        ]
    except (ValueError, RuntimeError, AssertionError) as error:
        raise CodecError(f"corrupt payload: {error}") from None
