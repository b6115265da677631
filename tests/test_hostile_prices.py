"""Hostile price sources, against real servers on loopback: a bad answer fails that source alone,
a slow one meets the deadline, internal addresses are refused, and no implausible price is written."""

from __future__ import annotations

import copy
import datetime as dt
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from foundation_data import MACHINE, folder_hash, write_folder
from pytest_httpserver import HTTPServer

from collectors import store
from collectors.cli import main
from collectors.prices.http import FetchError, HttpSettings, check_url
from collectors.prices.refresh import refresh

FAST = HttpSettings(connect_timeout_s=1.0, read_timeout_s=2.0, retries=0, backoff_factor_s=0.01,
                    max_bytes=2_000_000, deadline_s=1.5)
NOW = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.timezone.utc)


def source(url: str, kind: str = "purchase", sid: str = "shop") -> dict[str, Any]:
    return {"id": sid, "kind": "json_url", "url": url, "path": "data.price", "price_kind": kind,
            "provider": "Example shop"}


def machines(tmp_path: Path, **sources: list[dict[str, Any]]) -> Path:
    """A data folder with one machine per keyword (its id), each with those price sources."""
    root = tmp_path / "data"
    first = True
    for mid, srcs in sources.items():
        m = copy.deepcopy(MACHINE)
        m["id"], m["price_sources"] = mid, srcs
        if first:
            write_folder(root, m, runs=[])
            first = False
        else:
            (root / "machines" / f"{mid}.yaml").write_text(__import__("yaml").safe_dump(m, sort_keys=False))
    assert not store.load(root).problems
    return root


HOSTILE_BODIES: dict[str, tuple[bytes, str]] = {
    "10,000-deep": (b'{"data": ' + b"[" * 10_000 + b"]" * 10_000 + b"}", "levels deep"),
    "5,000-digit price": (b'{"data": {"price": ' + b"9" * 5000 + b"}}", "characters"),
    "1e400 price": (b'{"data": {"price": 1e400}}', "finite"),
    "NaN price": (b'{"data": {"price": NaN}}', "finite"),
    "1e308 price": (b'{"data": {"price": 1e308}}', "beyond"),
    "duplicate keys": (b'{"data": {"price": 1}, "data": {"price": 1700}}', "duplicate key"),
    "long key": (b'{"' + b"k" * 200_000 + b'": 1, "data": {"price": 1700}}', "characters"),
}


@pytest.mark.parametrize("case", list(HOSTILE_BODIES))
def test_a_hostile_answer_fails_its_source_and_the_next_machine_is_refreshed(
        case: str, tmp_path: Path, httpserver: HTTPServer) -> None:
    body, words = HOSTILE_BODIES[case]
    httpserver.expect_request("/bad.json").respond_with_data(body, content_type="application/json")
    httpserver.expect_request("/good.json").respond_with_json({"data": {"price": 1700}})
    root = machines(tmp_path, **{"a-bad": [source(httpserver.url_for("/bad.json"))],
                                 "b-good": [source(httpserver.url_for("/good.json"))]})
    bad_file = (root / "machines" / "a-bad.yaml").read_bytes()

    report = refresh(root, settings=FAST, now=NOW)

    by_machine = {o.machine: o for o in report.outcomes}
    assert by_machine["a-bad"].status in ("failed", "refused") and words in by_machine["a-bad"].message
    assert by_machine["b-good"].status == "added"
    assert (root / "machines" / "a-bad.yaml").read_bytes() == bad_file
    assert store.load(root).machines["b-good"].prices[-1].amount == 1700


@pytest.mark.parametrize("amount, kind", [(1e17, "cloud_hourly"), (60_000.0, "cloud_hourly"),
                                          (0.0001, "cloud_hourly"), (9e9, "purchase")])
def test_the_first_price_of_a_kind_has_bounds_too(amount: float, kind: str, tmp_path: Path,
                                                  httpserver: HTTPServer) -> None:
    httpserver.expect_request("/p.json").respond_with_json({"data": {"price": amount}})
    root = machines(tmp_path, box=[source(httpserver.url_for("/p.json"), kind=kind)])
    digest = folder_hash(root)
    report = refresh(root, settings=FAST, now=NOW, accept=True)
    [outcome] = report.outcomes
    assert outcome.status == "refused" and "plausible range" in outcome.message
    assert folder_hash(root) == digest


class Trickle:
    """A server that answers one byte at a time, every `gap` seconds, for as long as it is read:
    in the headers (`headers=False`) or after complete headers."""

    def __init__(self, headers_complete: bool, gap: float = 0.1):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.headers_complete, self.gap, self.stop = headers_complete, gap, threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            conn.settimeout(1)
            try:
                conn.recv(65536)
                head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n"
                if self.headers_complete:
                    conn.sendall(head + b"\r\n")
                    head = b'{"data": {"price": 17' + b" " * 1000
                for i in range(len(head)):
                    if self.stop.is_set():
                        return
                    conn.sendall(head[i:i + 1])
                    time.sleep(self.gap)
            except OSError:
                return

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.mark.parametrize("headers_complete", [True, False], ids=["slow body", "slow headers"])
def test_a_byte_a_moment_meets_the_deadline(headers_complete: bool, tmp_path: Path, httpserver: HTTPServer) -> None:
    slow = Trickle(headers_complete)
    httpserver.expect_request("/good.json").respond_with_json({"data": {"price": 1700}})
    try:
        root = machines(tmp_path, **{"a-slow": [source(f"http://127.0.0.1:{slow.port}/p.json")],
                                     "b-good": [source(httpserver.url_for("/good.json"))]})
        start = time.monotonic()
        report = refresh(root, settings=FAST, now=NOW)
        took = time.monotonic() - start
    finally:
        slow.close()
    by_machine = {o.machine: o for o in report.outcomes}
    assert "deadline" in by_machine["a-slow"].message and by_machine["a-slow"].status == "failed"
    assert by_machine["b-good"].status == "added"
    assert took < FAST.deadline_s + 2.0, took


def test_the_deadline_holds_off_the_main_thread(tmp_path: Path) -> None:
    slow = Trickle(headers_complete=True)
    out: dict[str, Any] = {}
    try:
        root = machines(tmp_path, box=[source(f"http://127.0.0.1:{slow.port}/p.json")])
        worker = threading.Thread(target=lambda: out.update(r=refresh(root, settings=FAST, now=NOW)))
        start = time.monotonic()
        worker.start()
        worker.join(timeout=20)
        took = time.monotonic() - start
    finally:
        slow.close()
    assert "deadline" in out["r"].outcomes[0].message and took < FAST.deadline_s + 2.5


@pytest.mark.parametrize("target, origin", [
    ("https://10.1.2.3/p.json", None), ("https://192.168.0.1/p", None), ("https://169.254.169.254/latest", None),
    ("https://[fd00::1]/p", None), ("https://0.0.0.0/p", None), ("https://[::ffff:10.0.0.1]/p", None),
    ("https://127.0.0.1/p", "https://shop.example/p.json"), ("https://localhost/p", "https://shop.example/p"),
    ("https://[::1]/p", "https://203.0.113.9/p"), ("http://127.0.0.1/p", "https://203.0.113.9/p"),
])
def test_internal_addresses_are_refused(target: str, origin: str | None) -> None:
    with pytest.raises(FetchError, match="refused"):
        check_url(target, origin=origin)


def test_loopback_may_redirect_to_loopback() -> None:
    check_url("http://127.0.0.1:9/p", origin="http://127.0.0.1:8/q")
    check_url("https://8.8.8.8/p", origin="https://shop.example/q")  # a public address


def test_a_redirect_to_a_private_address_is_not_followed(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/p.json").respond_with_data("", status=302,
                                                           headers={"Location": "https://10.0.0.7/admin"})
    root = machines(tmp_path, box=[source(httpserver.url_for("/p.json"))])
    digest = folder_hash(root)
    [outcome] = refresh(root, settings=FAST, now=NOW).outcomes
    assert outcome.status == "failed" and "redirect refused" in outcome.message and "private" in outcome.message
    assert folder_hash(root) == digest


@pytest.mark.parametrize("args, words", [
    (["--amount", "1e308"], "plausible range"),
    (["--amount", "inf"], "--amount"),
    (["--amount", "1800", "--date", "2099-01-01"], "future"),
    (["--amount", "1800", "--date", "0001-01-01"], "before 2000"),
    (["--amount", "1800", "--url", "https://example.org/" + "u" * 3000], "--url: a URL of 3,020 characters: at most 2,048"),
])
def test_prices_add_refuses_what_would_block_the_machine(args: list[str], words: str, tmp_path: Path) -> None:
    root = machines(tmp_path, box=[])
    digest = folder_hash(root)
    res = CliRunner().invoke(main, ["prices", "add", "box", "--kind", "purchase", "--url", "https://example.org/p",
                                    "--data", str(root), *args])
    assert res.exit_code == 1, res.output
    assert words in res.output and "Traceback" not in res.output
    assert folder_hash(root) == digest
    assert not store.load(root).problems


def test_cli_deadline_option(tmp_path: Path) -> None:
    slow = Trickle(headers_complete=True)
    try:
        root = machines(tmp_path, box=[source(f"http://127.0.0.1:{slow.port}/p.json")])
        start = time.monotonic()
        res = CliRunner().invoke(main, ["prices", "refresh", "--data", str(root), "--retries", "0",
                                        "--deadline", "1"])
        took = time.monotonic() - start
    finally:
        slow.close()
    assert res.exit_code == 1 and "1 s deadline" in res.output and "Traceback" not in res.output, res.output
    assert took < 4.0


class RawServer:
    """Answers one request with exactly these bytes, then closes."""

    def __init__(self, answer: bytes):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.answer = answer
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(self.answer)
        except OSError:
            return

    def close(self) -> None:
        self.sock.close()


RAW_ANSWERS = {
    "broken chunks": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"zz\r\n{}\r\n0\r\n\r\n",
    "short body": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"data\": ",
    "gzip lie": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                b"Content-Length: 10\r\n\r\nnot gzip!!",
    "not http": b"SSH-2.0-OpenSSH_9.6\r\n",
    "huge header": b"HTTP/1.1 200 OK\r\nX-Pad: " + b"x" * 200_000 + b"\r\n\r\n{}",
}


@pytest.mark.parametrize("case", list(RAW_ANSWERS))
def test_a_broken_answer_fails_its_source_only(case: str, tmp_path: Path, httpserver: HTTPServer) -> None:
    raw = RawServer(RAW_ANSWERS[case])
    httpserver.expect_request("/good.json").respond_with_json({"data": {"price": 1700}})
    try:
        root = machines(tmp_path, **{"a-bad": [source(f"http://127.0.0.1:{raw.port}/p.json")],
                                     "b-good": [source(httpserver.url_for("/good.json"))]})
        report = refresh(root, settings=FAST, now=NOW)
    finally:
        raw.close()
    by_machine = {o.machine: o for o in report.outcomes}
    assert by_machine["a-bad"].status in ("failed", "refused") and "127.0.0.1" in by_machine["a-bad"].message
    assert "internal error" not in by_machine["a-bad"].message
    assert by_machine["b-good"].status == "added"
