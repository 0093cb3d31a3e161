"""The decoder's network: model.SASNet's forward pass in numpy, so that a decode on a CPU never
imports torch (whose import alone was 1.7 s of a 3.0 s command-line decode of a 768x512 image).

The same operations in the same order in float32, from the same dequantized weights and the
same frozen tables (frequencies.py, layout.py), so the two agree to float rounding
(tests/test_numpy_model.py). Handles the three architectures; no state beyond the weights.
"""

from __future__ import annotations

import numpy as np

from .config import ModelConfig
from .frequencies import frozen_embedding
from .layout import grid_levels, spatial_hash, weight_parts

_CORNERS = ((0, 0), (1, 0), (0, 1), (1, 1))


class NumpySASNet:
    """coords float32 [N, 2] in [-1, 1] -> values float32 [N, channels], from the weights of
    every coded tensor (names as model.SASNet.coded_parameters gives them)."""

    def __init__(self, config: ModelConfig, weights: dict[str, np.ndarray]) -> None:
        self.config = config
        self.weights = weights
        omega = np.float32(config.omega_0)
        # omega_0 scales the weights once, as SineLayer does: the same float32 products.
        self.sine_layers = [(omega * self._matrix(i).T, omega * weights[f"hidden{i}.bias"])
                            for i in range(config.hidden_layers)]
        if config.has_embedding:
            weight, band = frozen_embedding(config)
            self.first_weight, self.first_bias = weight.T, weights["embedding.phase"]
            # Bands are contiguous runs of rows (the low band, 0, first): a row's mask is its
            # run's, repeated over the run's length (one contiguous product, no gather).
            starts = np.r_[0, np.flatnonzero(np.diff(band)) + 1]
            self.run_bands, self.run_lengths = band[starts], np.diff(np.r_[starts, len(band)])
        else:
            self.first_weight = omega * weights["first.weight"].T
            self.first_bias = omega * weights["first.bias"]
        self.levels = grid_levels(config) if config.has_masks else []

    def _matrix(self, layer: int) -> np.ndarray:
        """A hidden layer's weight matrix, its coded parts joined (the matrix itself when it is
        coded whole)."""
        cfg = self.config
        fan_in = cfg.embedding_width if layer == 0 else cfg.hidden_width
        parts = [self.weights[f"hidden{layer}.{suffix}"]
                 for suffix, _ in weight_parts(cfg, layer, fan_in)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)

    def evaluate(self, coords: np.ndarray) -> np.ndarray:
        cfg = self.config
        h = np.sin(coords @ self.first_weight + self.first_bias)
        if cfg.has_masks:
            masks = self._masks(coords)
            band_masks = np.concatenate([np.ones_like(masks[:, :1]),   # band 0 is never masked
                                         masks[:, : cfg.n_bands]], axis=1)
            h *= np.repeat(band_masks[:, self.run_bands], self.run_lengths, axis=1)
        for i, (weight, bias) in enumerate(self.sine_layers):
            h = np.sin(h @ weight + bias)
            if cfg.has_masks:
                first = cfg.n_bands + i * cfg.n_groups
                groups = h.reshape(len(h), cfg.n_groups, -1)
                groups *= masks[:, first : first + cfg.n_groups, None]
        return h @ self.weights["output.weight"].T + self.weights["output.bias"]

    def _masks(self, coords: np.ndarray) -> np.ndarray:
        """masks float32 [N, n_masks] in (0, 1): hash grid, ReLU layer, sigmoid."""
        w = self.weights
        unit = (np.clip(coords, -1, 1) + np.float32(1)) * np.float32(0.5)
        hidden = self._grid_features(unit) @ w["mask.hidden.weight"].T + w["mask.hidden.bias"]
        logits = np.maximum(hidden, 0) @ w["mask.out.weight"].T + w["mask.out.bias"]
        with np.errstate(over="ignore"):   # exp(-logit) = inf far below zero: the mask is 0
            return 1 / (1 + np.exp(-logits))

    def _grid_features(self, unit: np.ndarray) -> np.ndarray:
        """features float32 [N, levels * F], level-major: nn/hash_grid.py's bilinear read."""
        features = self.config.grid_features
        table = self.weights["grid.table"].reshape(-1, features)
        out = np.empty((len(unit), len(self.levels), features), dtype=np.float32)
        for level, geometry in enumerate(self.levels):
            position = unit * np.float32(geometry.scale) + np.float32(0.5)
            cell = np.floor(position)
            frac = position - cell
            cell = cell.astype(np.int64)
            along = ((1 - frac[:, 0], frac[:, 0]), (1 - frac[:, 1], frac[:, 1]))
            total = np.zeros((len(unit), features), dtype=np.float32)
            for dx, dy in _CORNERS:
                gx, gy = cell[:, 0] + dx, cell[:, 1] + dy
                index = gx + gy * geometry.resolution if geometry.dense else spatial_hash(gx, gy)
                index = index % geometry.size + geometry.offset
                total += table[index] * (along[1][dy] * along[0][dx])[:, None]
            out[:, level] = total
        return out.reshape(len(unit), -1)

