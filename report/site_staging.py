"""All-or-nothing renders: the site is rendered into a staging folder beside the site folder and
swapped in only once every page is written, so an interrupted or failed render leaves the previous
site as it was, never a mix of two renders.

The swap is one atomic exchange of the two folders where the platform has it (Linux renameat2 with
RENAME_EXCHANGE, on the file systems that support it); elsewhere the old folder is renamed aside,
the new one renamed in, and the old one removed: the site folder is then missing only between two
renames, with SIGTERM and Ctrl-C held back across them. Staging folders are named after the
rendering process (`_site.staging-PID`, `_site.previous-PID`), so the next render can tell the
leftovers of a process that is gone (a kill, a power cut) from those of one still rendering.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

STAGING = "staging"
PREVIOUS = "previous"
RENAME_EXCHANGE = 2  # linux/fs.h
AT_FDCWD = -100


def staging_dir(site_dir: Path) -> Path:
    """This process's staging folder for `site_dir` (a sibling: same file system, same depth)."""
    return site_dir.with_name(f"{site_dir.name}.{STAGING}-{os.getpid()}")


def _aside_dir(site_dir: Path) -> Path:
    return site_dir.with_name(f"{site_dir.name}.{PREVIOUS}-{os.getpid()}")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # ours: a folder of this process's is never in use before it starts rendering
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def leftovers(site_dir: Path) -> list[Path]:
    """Staging and set-aside folders of renders whose process is gone (or of this process)."""
    pattern = re.compile(rf"{re.escape(site_dir.name)}\.(?:{STAGING}|{PREVIOUS})-(\d+)")
    if not site_dir.parent.is_dir():
        return []
    found = []
    for path in site_dir.parent.iterdir():
        match = pattern.fullmatch(path.name)
        if match and not _alive(int(match.group(1))):
            found.append(path)
    return sorted(found)


def remove_leftovers(site_dir: Path) -> list[Path]:
    removed = leftovers(site_dir)
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed


def remove_own(site_dir: Path) -> None:
    """This process's staging and set-aside folders (after an interruption or a failure)."""
    for path in (staging_dir(site_dir), _aside_dir(site_dir)):
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def _signals_held() -> Iterator[None]:
    """SIGTERM and Ctrl-C wait until the block is done (then arrive as usual): a swap is never cut in half."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one step (Linux renameat2 RENAME_EXCHANGE); False where not supported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def swap_in(staging: Path, site_dir: Path, then: Callable[[], None] = lambda: None) -> None:
    """Make `staging` the site folder, call `then` (signals still held: nothing comes between the swap
    and it), and remove the previous site folder."""
    aside = _aside_dir(site_dir)
    with _signals_held():
        if not site_dir.exists():
            os.rename(staging, site_dir)
        elif _exchange(staging, site_dir):
            os.rename(staging, aside)  # now the old site: out of the way under a name the cleanup knows
        else:
            os.rename(site_dir, aside)
            os.rename(staging, site_dir)
        then()
    shutil.rmtree(aside, ignore_errors=True)
