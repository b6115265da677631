"""costperf's version as installed, recorded in every run file (a small module of its own, so that a
distributed rank can name it without loading the CLI and its commands)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def costperf_version() -> str:
    try:
        return version("costperf")
    except PackageNotFoundError:
        return "0+unknown"
