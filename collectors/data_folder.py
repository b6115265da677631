"""Where data files live: the folders and the kind of file each holds, the walk over them (a link out
of the data folder, a folder that cannot be listed or an entry that is not a plain file is a
problem, never a traceback), and paths as messages name them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from collectors.atomic_write import TMP_PREFIX
from collectors.problems import Problem

FOLDERS = {"machines": "machine", "runs": "run", "published": "published", "hosts": "host"}
SUFFIXES = {"machine": (".yaml", ".yml"), "published": (".yaml", ".yml"), "run": (".json",), "host": (".yaml", ".yml"),
            "names": (".yaml",)}
NAMES_FILE = "hardware-names.yaml"
"""The table from published hardware names to machine ids, at the top of the data folder."""


def real(path: Path) -> Path:
    """The path with links followed as far as they go; a link loop is left as it is, never raised."""
    return Path(os.path.realpath(path))



def kind_of(path: Path) -> str | None:
    """machine / run / published / host, from the folder a file sits in (names: the names table)."""
    if path.name == NAMES_FILE:
        return "names"
    for parent in real(path).parents:
        if parent.name in FOLDERS:
            return FOLDERS[parent.name]
    return None



def _within(path: Path, root: Path) -> str:
    """`path` relative to the data folder's parent when it lies inside (messages name no local folder)."""
    try:
        return str(real(path).relative_to(real(root).parent))
    except ValueError:
        return path.name



def walk_data(root: Path) -> tuple[list[tuple[Path, str]], list[Problem]]:
    """Every file under the data folders, and a problem for each folder that cannot be listed, each
    link that leads out of the data folder and each entry that is not a plain file. Temporary
    files of interrupted writes are skipped."""
    files: list[tuple[Path, str]] = []
    problems: list[Problem] = []
    inside = real(root)
    for folder, kind in FOLDERS.items():
        base = root / folder
        if not base.exists() and not base.is_symlink():
            continue
        if not base.is_dir():
            problems.append(Problem(base, "", "expected a folder of data files"))
            continue

        def unreadable(exc: OSError) -> None:
            problems.append(Problem(Path(exc.filename or base), "",
                                    f"cannot list this folder ({exc.strerror or type(exc).__name__}): "
                                    "its files were not checked"))

        for here, dirs, names in os.walk(base, onerror=unreadable):
            dirs.sort()
            for name in sorted(names) + sorted(dirs):
                path = Path(here) / name
                if name.startswith(TMP_PREFIX) or name == ".gitkeep":
                    continue
                try:
                    problem = _entry_problem(path, name in names, inside)
                except OSError as exc:
                    problem = f"cannot read ({exc.strerror or type(exc).__name__}): not checked"
                if problem:
                    problems.append(Problem(path, "", problem))
                elif name in names:
                    files.append((path, kind))
    return files, problems



def _entry_problem(path: Path, listed_as_file: bool, inside: Path) -> str | None:
    """Why a folder entry is not read as a data file (None: it is one, or a folder walked into)."""
    link = path.is_symlink()
    if not listed_as_file and not link:
        return None  # a plain folder: os.walk goes into it
    if not real(path).is_relative_to(inside):
        return "a link to a file outside the data folder: not read"
    if path.is_dir():
        return "a link to a folder: not followed" if link else "a folder where a data file belongs: not read"
    if not path.is_file():
        return "not a plain file (a device, pipe or broken link): not read"
    return None



def data_files(root: Path) -> Iterator[tuple[Path, str | None]]:
    """Every data file under the data folders (see `walk_data`; its problems are left out)."""
    yield from walk_data(root)[0]
