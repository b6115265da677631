"""The path-valued options of `costperf run`, checked when the command line is read.

A model or binary that is missing, a folder, unreadable or of the wrong kind is bad input: it is
refused before torch loads and before any workload runs (exit status 2, click's usage error naming
the option), instead of surfacing minutes later as `unsupported` rows in a run file.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import click

from collectors.terminal import clean

GGUF_MAGIC = b"GGUF"
"""The first four bytes of every GGUF file (llama.cpp's gguf.h: GGUF_MAGIC)."""


def _shown(path: str) -> str:
    # A path is user input: escape sequences must not reach the terminal, and one line stays one line.
    text = clean(path)
    return f"'{text if len(text) <= 200 else text[:199] + '…'}'"


def _kind_problem(path: str) -> str | None:
    """Why `path` is not a regular file that can be opened; None when it is. It stats rather than
    opens: opening a FIFO to look at it would wait for a writer forever."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "does not exist"
    except NotADirectoryError:
        return "does not exist (a part of it is a file, not a folder)"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISDIR(st.st_mode):
        return "is a folder"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file"
    return None


def gguf_param(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """--gguf: a readable file that starts with GGUF's magic bytes."""
    if value is None:
        return None
    expected = "expected a GGUF model file (MODEL.gguf)"
    problem = _kind_problem(str(value))
    if problem is None:
        try:
            fd = os.open(value, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
            try:
                head = os.read(fd, len(GGUF_MAGIC))
            finally:
                os.close(fd)
        except OSError as exc:
            problem = f"cannot be read ({exc.strerror or exc})"
        else:
            if head != GGUF_MAGIC:
                problem = "is not a GGUF file (it does not start with the bytes 'GGUF')"
    if problem is not None:
        raise click.BadParameter(f"{_shown(str(value))} {problem}: {expected}.")
    return value


def llama_bench_param(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """--llama-bench: an executable file, or the name of a command on PATH (as the workload finds it)."""
    if value is None:
        return None
    expected = "expected the llama-bench binary (its path, or a command name on PATH)"
    if not value.strip():
        raise click.BadParameter(f"'' is empty: {expected}; leave the option out to use the one on PATH.")
    # A bare name is looked up on PATH, as collectors.workloads.llama_cpp.find_binary does.
    if os.sep not in value and (os.altsep is None or os.altsep not in value) and not Path(value).exists():
        if shutil.which(value) is None:
            raise click.BadParameter(f"{_shown(value)} is not a file here nor a command on PATH: {expected}.")
        return value
    problem = _kind_problem(value)
    if problem is None and not os.access(value, os.X_OK):
        problem = "is not executable (chmod +x it)"
    if problem is not None:
        raise click.BadParameter(f"{_shown(value)} {problem}: {expected}.")
    return value
