"""Atomic file output: a reader never sees a half-written file, and a failure leaves nothing."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

from .errors import CodecError


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> None:
    """Call write(file) on a temporary file beside `path`, then rename it into place."""
    target = Path(path)
    folder = check_output_folder(target)
    if target.is_dir():
        raise CodecError(f"output path {str(target)!r} is a folder")
    try:
        handle, temp_name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".part")
    except OSError as error:
        raise CodecError(f"cannot write to {str(folder)!r}: {error.strerror}") from None
    try:
        # mkstemp creates the file 0600; give it the mode a plain open() would have.
        os.chmod(temp_name, 0o666 & ~_current_umask())
        with os.fdopen(handle, "wb") as stream:
            write(stream)
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def check_output_folder(path: str | os.PathLike) -> Path:
    """The folder `path` would be written to; CodecError if it does not exist."""
    folder = Path(path).parent
    if not folder.is_dir():
        raise CodecError(f"output folder {str(folder)!r} does not exist")
    return folder


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def read_input_file(path: str | os.PathLike) -> bytes:
    """The bytes of an input file, or a CodecError that names the problem."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise CodecError(f"input file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise CodecError(f"input {str(path)!r} is a folder, not a file") from None
    except OSError as error:
        raise CodecError(f"cannot read {str(path)!r}: {error.strerror}") from None


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when both paths name one existing file (so writing b would destroy a)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_paths(input_path: str | os.PathLike, output_path: str | os.PathLike) -> None:
    """Refuse, before any work, an output that would destroy the input or cannot be written."""
    if same_file(input_path, output_path):
        raise CodecError("the output path is the input file; refusing to overwrite it")
    check_output_folder(output_path)
