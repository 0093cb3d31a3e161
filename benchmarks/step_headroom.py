"""How much quantization steps finer-grained than one per tensor would save on real .sas files,
before building them.

    python -m benchmarks.step_headroom benchmarks/results/kodak-mini/sasnet.json \
        --cache benchmarks/cache

The codec rounds each tensor with one step. Rounding a weight with step s adds about
s^2 / 12 * h to the squared error, h being the weight's Gauss-Newton sensitivity: the sum over
the image's pixels and channels of (d output / d weight)^2, measured on the decoded network.
At equal added error, steps set per group of weights as (the group's summed h)^-1/2 save
0.5 log2(arithmetic / geometric mean of those sums) bits a weight (high-rate theory; the coder
is assumed to follow each group's step with its scale, at no cost). For the sine layers'
weight matrices (most of every file) this prints that saving in percent of the files: with a
step per weight (no side information: a bound no format reaches), per row, per column, and for
the first hidden layer per embedding band (its columns are the embedding's rows, whose masks
damp the high bands); each extra step index is charged the 8 bits the header spends on one.
Every saving is against one step per matrix, whatever the file holds: a first hidden layer
coded in two parts (ModelConfig.split_first_hidden) is read as the one matrix it is.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch

from sasnet_codec.decoder import decode_container, decode_model
from sasnet_codec.entropy import laplace_bits
from sasnet_codec.fit import Targets
from sasnet_codec.image_io import load_image
from sasnet_codec.model import SASNet

from .entropy_headroom import SCALE_INDEX_BITS, print_savings
from .rd_cache import add_cached_files_arguments, cached_files_per_point


def allocation_gain(sums: np.ndarray, counts: np.ndarray | None = None) -> float:
    """Bits saved over all the weights by one step per group instead of one for all, at equal
    added error, from the groups' summed sensitivities and their sizes (equal when not given):
    the sum over groups of size x 0.5 log2(the mean sensitivity / the group's). A group no
    pixel is sensitive to could take any step: infinite."""
    sums = np.asarray(sums, dtype=np.float64).ravel()
    counts = np.ones_like(sums) if counts is None else np.asarray(counts, dtype=np.float64)
    if sums.min() <= 0:
        return math.inf
    mean = sums.sum() / counts.sum()
    return float(0.5 * (counts * np.log2(mean / (sums / counts))).sum())


def charged_gain(sums: np.ndarray, counts: np.ndarray) -> float:
    """`allocation_gain` less the header's cost of each step index beyond the tensor's own."""
    return allocation_gain(sums, counts) - (len(counts) - 1) * SCALE_INDEX_BITS


def sensitivities(model: SASNet, coords: torch.Tensor) -> dict[str, np.ndarray]:
    """Each sine-layer weight matrix's Gauss-Newton diagonal at `coords` (hidden layers and the
    output layer), by name."""
    layers = {f"hidden{i}.weight": layer for i, layer in enumerate(model.hidden)}
    seen: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def keep_preactivation(name: str):
        def hook(layer, inputs, _output):
            # recompute sin's argument so that its gradient can be read after backward
            z = torch.nn.functional.linear(inputs[0], layer.omega_0 * layer.full_weight(),
                                           layer.omega_0 * layer.bias)
            z.retain_grad()
            seen[name] = (inputs[0].detach(), z)
            return torch.sin(z)
        return hook

    last_inputs: list[torch.Tensor] = []
    handles = [layer.register_forward_hook(keep_preactivation(name))
               for name, layer in layers.items()]
    handles.append(model.output.register_forward_hook(
        lambda _layer, inputs, _output: last_inputs.append(inputs[0].detach())))
    try:
        out = model(coords)
    finally:
        for handle in handles:
            handle.remove()
    last_input, = last_inputs
    result = {name: torch.zeros_like(layer.full_weight()) for name, layer in layers.items()}
    for channel in range(out.shape[1]):
        for _, z in seen.values():
            z.grad = None
        out[:, channel].sum().backward(retain_graph=True)
        for name, (inputs, z) in seen.items():
            # d out / d W[r, j] = omega_0 * d out / d z[r] * input[j], pixel by pixel
            result[name] += layers[name].omega_0 ** 2 * (z.grad ** 2).T @ inputs ** 2
    output = (last_input ** 2).sum(0).expand(out.shape[1], -1)   # each channel's own row
    return {**{name: h.numpy() for name, h in result.items()}, "output.weight": output.numpy()}


def file_savings(path: Path) -> tuple[float, dict[str, tuple[float, ...]]]:
    """The file's bits, and per weight matrix its bits and the bits saved with a step per
    weight, per row, per column and (the first hidden layer, whose columns are the embedding's
    rows, of a network with one) per embedding band; NaN where a grouping does not apply."""
    data = path.read_bytes()
    _, model = decode_model(data)
    container, tensors = decode_container(data)
    bits = {tensor.name: laplace_bits(tensor.coded_symbols(), coding.scale_index)
            for tensor, coding in zip(tensors, container.sections)}
    image = load_image(path.with_suffix(".png"))   # rd_curve keeps the source beside the file
    coords = Targets.from_image(image, torch.device("cpu")).coords
    band = model.first.band.numpy() if model.config.has_embedding else None
    savings = {}
    for name, h in sensitivities(model, coords).items():
        rows, columns = h.shape
        per_band = math.nan
        if name == "hidden0.weight" and band is not None:   # its columns are the embedding's rows
            bands = np.unique(band)
            per_band = charged_gain([h[:, band == b].sum() for b in bands],
                                    [h[:, band == b].size for b in bands])
        coded = sum(b for part, b in bits.items() if part.startswith(name))   # split: both parts
        savings[name] = (coded, allocation_gain(h),
                         charged_gain(h.sum(1), np.full(rows, columns)),
                         charged_gain(h.sum(0), np.full(columns, rows)), per_band)
    return 8 * len(data), savings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_cached_files_arguments(parser)
    for point, paths in cached_files_per_point(parser.parse_args(argv)):
        file_bits, totals = 0.0, {}
        for path in paths:
            bits, savings = file_savings(path)
            file_bits += bits
            for name, values in savings.items():
                totals[name] = [a + b for a, b in zip(totals.get(name, [0.0] * 5), values)]
        rows = {name: (bits, [None if math.isnan(s) else s for s in saved])
                for name, (bits, *saved) in totals.items()}
        print_savings(point, len(paths), file_bits,
                      ["per weight", "per row", "per column", "per band"], rows, name_width=16)


if __name__ == "__main__":
    main()
