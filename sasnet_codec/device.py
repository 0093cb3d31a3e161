"""Device selection: CUDA when present unless the user says otherwise."""

from __future__ import annotations

import torch

from .errors import CodecError


def resolve_device(name: str = "auto") -> torch.device:
    """"auto" -> cuda if available else cpu; anything else must name an available device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise CodecError(f"unknown device {name!r}; use auto, cpu or cuda[:N]") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise CodecError("CUDA was requested but is not available on this machine")
    if device.type not in ("cpu", "cuda"):
        raise CodecError(f"unsupported device {name!r}; use auto, cpu or cuda[:N]")
    return device
