"""A private, signed file cache: what is read back is only ever what this user wrote.

The report's cache holds pickles, and unpickling runs whatever code the file names, so an entry
someone else wrote (another user on a shared machine, a file dropped into the cache folder) must
never be loaded. Each entry is accepted only if

- the cache folder and the entry belong to this user and no one else can write them (the folder is
  created 0700, entries 0600; links are not followed), and
- its first 32 bytes are the HMAC-SHA256 of the rest under a random key kept in that folder
  (0600), which only this user can read; a copied or edited entry fails the check.

Anything else is ignored (and rebuilt), never loaded. Where the platform has no owners (Windows),
nothing is cached.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

KEY_NAME = "key"
TAG_BYTES = 32
MAX_ENTRY_BYTES = 512 * 1024 * 1024


def _private(st: os.stat_result) -> bool:
    return st.st_uid == os.getuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _folder_ok(folder: Path) -> bool:
    if not hasattr(os, "getuid"):
        return False
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(folder)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and _private(st)


def _read_private(path: Path, limit: int) -> bytes | None:
    """The file's bytes if it is a plain file of this user's that no one else can write."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or not _private(st) or st.st_size > limit:
            return None
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _key(folder: Path) -> bytes | None:
    path = folder / KEY_NAME
    key = _read_private(path, 1024)
    if key is not None and len(key) >= 32:
        return key
    try:
        _write_private(path, os.urandom(32))
    except OSError:
        return None
    key = _read_private(path, 1024)
    return key if key is not None and len(key) >= 32 else None


def read(path: Path) -> bytes | None:
    """The payload stored at `path` by `write`, or None if absent, foreign or altered."""
    folder = path.parent
    if not _folder_ok(folder):
        return None
    key = _key(folder)
    blob = _read_private(path, MAX_ENTRY_BYTES)
    if key is None or blob is None or len(blob) < TAG_BYTES:
        return None
    tag, payload = blob[:TAG_BYTES], blob[TAG_BYTES:]
    if not hmac.compare_digest(tag, hmac.new(key, payload, hashlib.sha256).digest()):
        return None
    return payload


def write(path: Path, payload: bytes) -> bool:
    """Store `payload` at `path`, signed; False where there is no private cache folder."""
    folder = path.parent
    if not _folder_ok(folder):
        return False
    key = _key(folder)
    if key is None:
        return False
    try:
        _write_private(path, hmac.new(key, payload, hashlib.sha256).digest() + payload)
    except OSError:
        return False
    return True
