"""Atomic writes of data files: all or nothing, never over an existing file, and a finished run is
never lost to a name clash or a full disk.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from collectors.records import RunRecord

TMP_PREFIX = ".costperf-tmp-"
NAMED_TEMPORARY_ENV = "COSTPERF_NAMED_TEMPORARY"
"""Set to 1 to use the portable named-temporary path (what macOS and file systems without
O_TMPFILE take) on Linux too."""
RECOVERY_ENV = "COSTPERF_RECOVERY_DIR"
"""Where a run that cannot be written to the data folder is kept (default: the temp folder)."""
MAX_SAME_SECOND = 100


class RunNotSaved(Exception):
    """A finished run could not be written to the data folder; `recovered` is where it was kept
    instead (None: nowhere writable, and `text` is all that is left)."""

    def __init__(self, message: str, recovered: Path | None, text: str):
        self.recovered, self.text = recovered, text
        super().__init__(message)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not every platform can open a directory; the rename is still atomic
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.fsync(fd)


def make_folder(folder: Path) -> None:
    """mkdir -p, where a file in the way is "not a folder", not "exists" (which means "already written")."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise NotADirectoryError(errno.ENOTDIR, "a file is where this folder should be", str(folder)) from None


def _unnamed_allowed() -> bool:
    return (hasattr(os, "O_TMPFILE") and Path("/proc/self/fd").is_dir()
            and os.environ.get(NAMED_TEMPORARY_ENV) != "1")


def write_new(path: Path, text: str) -> Path:
    """Create `path` with `text`, all or nothing; refuse to overwrite an existing file.

    The content is written and fsynced under no name (Linux O_TMPFILE) or a temporary name in the
    same folder, then hard-linked to its name, which fails if the name exists. A crash or kill at
    any point leaves the complete file or nothing under that name; on Linux not even a temporary.
    """
    path = Path(path)
    make_folder(path.parent)
    if path.exists():
        raise FileExistsError(f"{path} exists; data files are never overwritten")
    data = text.encode("utf-8")
    if _unnamed_allowed():
        try:
            fd = os.open(path.parent, os.O_TMPFILE | os.O_WRONLY, 0o644)
        except OSError:
            fd = -1  # file system without O_TMPFILE support: fall back to a named temporary
        if fd >= 0:
            try:
                _write_all(fd, data)
                os.link(f"/proc/self/fd/{fd}", path, follow_symlinks=True)
                linked = True
            except OSError as exc:
                if exc.errno == errno.EEXIST:
                    raise FileExistsError(f"{path} exists; data files are never overwritten") from None
                if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS):
                    raise
                linked = False  # some kernels (sandboxes) refuse linking /proc fds: use a named temporary
            finally:
                os.close(fd)
            if linked:
                _fsync_dir(path.parent)
                return path
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=path.parent)
    try:
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
        os.chmod(tmp, 0o644)
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise FileExistsError(f"{path} exists; data files are never overwritten") from None
    finally:
        os.unlink(tmp)
    _fsync_dir(path.parent)
    return path


def replace(path: Path, text: str) -> Path:
    """Replace the content of `path` atomically (machine files, whose price history only grows)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=path.parent)
    try:
        try:
            _write_all(fd, text.encode("utf-8"))
        finally:
            os.close(fd)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    _fsync_dir(path.parent)
    return path


def dump_run(run: RunRecord) -> str:
    return run.model_dump_json(indent=2, exclude_none=False) + "\n"


def run_names(stamp: str) -> list[str]:
    """File names a run started at `stamp` may take: the stamp, then stamp-2, stamp-3 ... for runs
    started in the same second on one machine."""
    return [f"{stamp}.json"] + [f"{stamp}-{n}.json" for n in range(2, MAX_SAME_SECOND + 1)]


def _write_free_name(folder: Path, stamp: str, text: str) -> Path:
    make_folder(folder)
    for name in run_names(stamp):
        try:
            return write_new(folder / name, text)
        except FileExistsError:
            if not folder.is_dir():
                raise
    raise OSError(errno.EEXIST, f"{MAX_SAME_SECOND} runs already started in second {stamp}", str(folder))


def write_run(root: Path | str, run: RunRecord) -> Path:
    """Write a run record to data/runs/<machine>/<stamp>.json (or <stamp>-N.json when a run started
    in the same second is there already); never overwrites.

    If the data folder cannot take it (full disk, read-only, not a folder), the record is written to
    a recovery folder and RunNotSaved says where, so finished results are never thrown away.
    """
    text = dump_run(run)
    folder = Path(root) / "runs" / run.machine
    try:
        return _write_free_name(folder, run.stamp, text)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        recovered = recover(run.machine, run.stamp, text)
        target = folder / f"{run.stamp}.json"
        if recovered is None:
            raise RunNotSaved(f"could not write {target} ({reason}), nor a recovery copy: the record follows "
                              "on standard error; save it as that file", None, text) from None
        raise RunNotSaved(f"could not write {target} ({reason}); the run's results are kept in {recovered}: "
                          f"copy it to {folder}/ when the data folder can take it", recovered, text) from None


def recovery_folders() -> list[Path]:
    folders = [Path(os.environ[RECOVERY_ENV])] if os.environ.get(RECOVERY_ENV) else []
    return folders + [Path(tempfile.gettempdir()) / "costperf-recovered", Path.home() / ".costperf-recovered"]


def recover(machine: str, stamp: str, text: str) -> Path | None:
    for base in recovery_folders():
        try:
            return _write_free_name(base / machine, stamp, text)
        except OSError:
            continue
    return None


def cleanup_temporaries(root: Path | str) -> list[Path]:
    """Remove leftovers of writes killed before they finished (they never carry a data file's name)."""
    removed = []
    for folder in ("machines", "runs", "published"):
        for tmp in (Path(root) / folder).rglob(f"{TMP_PREFIX}*"):
            tmp.unlink()
            removed.append(tmp)
    return removed
