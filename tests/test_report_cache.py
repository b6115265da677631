"""The report's cache loads only what this user wrote: a pickle dropped in the cache folder by
anyone else, a copied or edited entry, a link, or an entry in a folder others can write is never
unpickled (it would run its author's code)."""

from __future__ import annotations

import os
import pickle
import stat
from pathlib import Path

import pytest
from foundation_data import write_folder

from report import cache_file, metrics, page
from report.assumptions import Assumptions


class _Plant:
    """Unpickling this creates a file: the proof that a foreign pickle ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


def _setup(tmp_path: Path) -> tuple[Path, Assumptions, Path]:
    data = write_folder(tmp_path / "data")
    a = Assumptions(data_dir=str(data))
    return tmp_path, a, page.cache_path(tmp_path, a)


def test_an_entry_is_private_and_used_again(tmp_path: Path, cache_home: Path) -> None:
    root, a, path = _setup(tmp_path)
    first = page.build_cached(root, a)
    assert isinstance(first, metrics.Report) and path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert cache_file.read(path) is not None
    assert page.build_cached(root, a).machines.equals(first.machines)


def test_a_foreign_pickle_is_never_loaded(tmp_path: Path, cache_home: Path) -> None:
    root, a, path = _setup(tmp_path)
    marker = tmp_path / "ran"
    path.parent.mkdir(parents=True, mode=0o700)
    path.write_bytes(pickle.dumps(_Plant(marker)))  # unsigned, as the old cache wrote it
    assert isinstance(page.build_cached(root, a), metrics.Report)
    assert not marker.exists()


def test_an_entry_signed_with_another_key_is_refused(tmp_path: Path, cache_home: Path) -> None:
    root, a, path = _setup(tmp_path)
    page.build_cached(root, a)  # makes the folder and this user's key
    marker = tmp_path / "ran"
    payload = pickle.dumps(_Plant(marker))
    import hashlib
    import hmac
    path.write_bytes(hmac.new(b"k" * 32, payload, hashlib.sha256).digest() + payload)
    assert cache_file.read(path) is None
    page.build_cached(root, a)
    assert not marker.exists()


def test_an_edited_entry_is_refused(tmp_path: Path, cache_home: Path) -> None:
    _, _, path = _setup(tmp_path)
    assert cache_file.write(path, b"payload")
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 1
    path.write_bytes(bytes(blob))
    assert cache_file.read(path) is None


def test_a_folder_others_can_write_is_not_trusted(tmp_path: Path, cache_home: Path) -> None:
    _, _, path = _setup(tmp_path)
    assert cache_file.write(path, b"payload") and cache_file.read(path) == b"payload"
    path.parent.chmod(0o777)
    assert cache_file.read(path) is None
    path.parent.chmod(0o700)
    path.chmod(0o666)
    assert cache_file.read(path) is None


def test_a_link_is_not_followed(tmp_path: Path, cache_home: Path) -> None:
    _, _, path = _setup(tmp_path)
    other = tmp_path / "other"
    assert cache_file.write(other / "entry", b"payload")
    assert cache_file.write(path, b"x")
    path.unlink()
    path.symlink_to(other / "entry")
    assert cache_file.read(path) is None


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_an_entry_owned_by_someone_else_is_refused(tmp_path: Path, cache_home: Path) -> None:
    _, _, path = _setup(tmp_path)
    assert cache_file.write(path, b"payload")
    os.chown(path, 65534, 65534)
    assert cache_file.read(path) is None
