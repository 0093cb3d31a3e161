import numpy as np
import pytest

import torch

from sasnet_codec.config import FitConfig
from sasnet_codec.entropy import (Section, best_scale_index, decode_sections, encode_sections,
                                  laplace_bits)
from sasnet_codec.errors import CodecError
from sasnet_codec.fit import Targets, fit
from sasnet_codec.image_io import image_from_array
from sasnet_codec.quantize import StepSearch, quantize_model

from tests.helpers import synthetic_image, tiny_config


def empirical_entropy_bits(symbols: np.ndarray) -> float:
    _, counts = np.unique(symbols, return_counts=True)
    p = counts / counts.sum()
    return float(-(counts * np.log2(p)).sum())


def test_round_trip_is_exact():
    rng = np.random.default_rng(0)
    sections = [Section(np.rint(rng.laplace(0, s, n)).astype(np.int32), 0)
                for s, n in [(3, 500), (40, 2000), (0.3, 100), (1, 0)]]
    sections = [Section(s.symbols, best_scale_index(s.symbols)) for s in sections]
    payload = encode_sections(sections)
    decoded = decode_sections(payload, [(len(s.symbols), s.scale_index) for s in sections])
    for section, values in zip(sections, decoded):
        assert np.array_equal(section.symbols, values)


def test_a_trimmed_payload_decodes_the_same_in_fewer_bytes():
    """Format 5's payload: big-endian words, the stream's end rounded to as many zero bytes as
    decoding allows and those left out; a decoder reads zeros past the end."""
    rng = np.random.default_rng(2)
    saved = []
    for trial in range(60):
        sections = [Section(np.rint(rng.laplace(0, scale, count)).astype(np.int32), 0)
                    for scale, count in ((2, int(rng.integers(1, 300))), (9, 40))]
        sections = [Section(s.symbols, best_scale_index(s.symbols)) for s in sections]
        layout = [(len(s.symbols), s.scale_index) for s in sections]
        whole, trimmed = (encode_sections(sections, big) for big in (False, True))
        assert not trimmed.endswith(b"\0")
        for payload in (trimmed, trimmed + bytes(9)):
            decoded = decode_sections(payload, layout, big_endian_trimmed=True)
            assert all(np.array_equal(s.symbols, d) for s, d in zip(sections, decoded))
        saved.append(len(whole) - len(trimmed))
    assert min(saved) >= 0 and np.mean(saved) > 1


def test_code_length_estimate_matches_the_coder():
    symbols = np.rint(np.random.default_rng(1).laplace(0, 6, 20000)).astype(np.int32)
    scale = best_scale_index(symbols)
    payload = encode_sections([Section(symbols, scale)])
    estimate = laplace_bits(symbols, scale)
    assert len(payload) * 8 == pytest.approx(estimate, rel=0.01)


def test_payload_is_within_3_percent_of_the_empirical_entropy_of_real_symbols():
    """Symbols of a real fitted and step-searched network. Every tensor of >= 1000 symbols, coded
    in one stream, against the sum of their empirical entropies. (Tiny tensors are left out:
    the empirical entropy of a few dozen samples is far below what any code can reach.)"""
    image = image_from_array(synthetic_image(48, 32))
    config = tiny_config().model.replace(embedding_width=64, hidden_width=48)
    model = fit(image, config, FitConfig(steps=100, device="cpu"), progress=False).model
    targets = Targets.from_image(image, torch.device("cpu"))
    choice = StepSearch(model, targets).at_slope(1.0)
    tensors = [t for t in quantize_model(model, {n: c.step_index for n, c in choice.items()})
               if t.symbols.size >= 1000]
    assert len(tensors) >= 2
    payload = encode_sections([Section(t.symbols, best_scale_index(t.symbols)) for t in tensors])
    entropy = sum(empirical_entropy_bits(t.symbols) for t in tensors)
    assert len(payload) * 8 <= 1.03 * entropy


def test_damaged_payload_is_a_codec_error():
    with pytest.raises(CodecError):
        decode_sections(b"\x01\x02\x03", [(10, 40)])


def test_payload_bytes_are_pinned():
    """Golden bytes: a constriction release that changes its Laplace tables, or a change to
    the scale table, would make old files undecodable; this catches both."""
    symbols = np.array([0, 1, -1, 2, -3, 0, 0, 5, -8, 13, 0, 1], dtype=np.int32)
    sections = [Section(symbols, 50), Section(symbols[::-1].copy(), 70)]
    assert encode_sections(sections).hex() == PAYLOAD_GOLDEN
    assert encode_sections(sections, big_endian_trimmed=True).hex() == TRIMMED_GOLDEN


PAYLOAD_GOLDEN = "1918609684352f0fe09b5f8ceda90c75"
TRIMMED_GOLDEN = "966018190f2f35848c5f9be0750d"
