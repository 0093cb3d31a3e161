"""Benchmark scripts (run from the repository root): fit quality, rate-distortion."""
