"""Value tables shared by encoder and decoder: the bitstream sends indices, never floats.

Every value is 2^(n/16) rounded to a 16-bit mantissa times a power of two, built from the
integers below with exact float operations, so both sides hold bit-identical values whatever
their libm.
"""

from __future__ import annotations

# round(2^(k/16) * 65536) for k = 0..15
_MANTISSAS = (65536, 68438, 71468, 74632, 77936, 81386, 84990, 88752,
              92682, 96785, 101070, 105545, 110218, 115098, 120194, 125515)


def exp2_sixteenths(n: int) -> float:
    """2^(n / 16), exactly representable in float32 (16 significant bits)."""
    octave, k = divmod(n, 16)
    return _MANTISSAS[k] * 2.0 ** (octave - 16)


QUANT_STEP_COUNT = 256


def quantization_step(index: int) -> float:
    """Step index i in [0, 255] -> 2^(-i/8): from 1 down to about 2.4e-10, 8 steps per octave."""
    if not 0 <= index < QUANT_STEP_COUNT:
        raise ValueError(f"quantization step index {index} out of range")
    return exp2_sixteenths(-2 * index)


LAPLACE_SCALE_COUNT = 256


def laplace_scale(index: int) -> float:
    """Scale index j in [0, 255] -> 2^((j - 48)/16) symbols: from 0.125 to about 7000."""
    if not 0 <= index < LAPLACE_SCALE_COUNT:
        raise ValueError(f"Laplace scale index {index} out of range")
    return exp2_sixteenths(index - 48)
