"""Where benchmark results go and how they are labelled: the results folder, a one-line
description of the hardware, and writing a JSON report (and showing it)."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def hardware(device: str = "cpu") -> str:
    if device.startswith("cuda"):
        import torch

        return f"{torch.cuda.get_device_name(0)} (CUDA)"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores visible"


def publish(name: str, report: dict) -> dict:
    """Write results/<name>.json and print it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=1)
    (RESULTS / f"{name}.json").write_text(text)
    print(text)
    return report
