"""`costperf prices refresh` against a real HTTP server on loopback (pytest-httpserver).

Every failure case checks that the data folder is byte-for-byte unchanged. Waits are kept short
through HttpSettings (small backoff, short timeouts), never by patching the code under test.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from foundation_data import MACHINE, folder_hash, write_folder
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from collectors import store
from collectors.cli import main
from collectors.prices.http import FetchError, HttpSettings, check_url
from collectors.prices.refresh import refresh

FAST = HttpSettings(connect_timeout_s=1.0, read_timeout_s=0.3, retries=2, backoff_factor_s=0.01,
                    backoff_max_s=0.05, retry_after_max_s=2.0, max_bytes=10_000)
NOW = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.timezone.utc)
COMMENT = "# Contributors' comment: kept byte for byte by a refresh.\n"


def make_data(tmp_path: Path, sources: list[dict[str, Any]]) -> Path:
    machine = copy.deepcopy(MACHINE)
    machine["price_sources"] = sources
    root = write_folder(tmp_path / "data", machine)
    path = root / "machines" / "test-desktop.yaml"
    path.write_text(COMMENT + path.read_text())
    assert not store.load(root).problems
    return root


def json_source(url: str, path: str = "data.price", kind: str = "purchase") -> dict[str, Any]:
    return {"id": "shop", "kind": "json_url", "url": url, "path": path, "price_kind": kind,
            "provider": "Example shop"}


def machine_file(root: Path) -> Path:
    return root / "machines" / "test-desktop.yaml"


def run(root: Path, **kw: Any):  # noqa: ANN201 - the Report
    return refresh(root, settings=kw.pop("settings", FAST), now=NOW, **kw)


# ---------------------------------------------------------------------------------------------
# Success


def test_success_appends_one_price_and_keeps_the_rest_of_the_file(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/price.json").respond_with_json({"data": {"price": 1799.0}})
    root = make_data(tmp_path, [json_source(httpserver.url_for("/price.json"))])
    before = machine_file(root).read_text()

    report = run(root)

    assert report.ok, report.outcomes
    assert [o.status for o in report.outcomes] == ["added"]
    after = machine_file(root).read_text()
    assert after.startswith(COMMENT)
    # Only lines were added, none changed or removed.
    assert [line for line in before.splitlines() if line not in after.splitlines()] == []
    machine = store.load(root).machines["test-desktop"]
    assert [p.amount for p in machine.prices] == [1599, 1799.0]
    new = machine.prices[-1]
    assert (new.source, new.kind, new.currency, new.date, new.fetched_at) == ("shop", "purchase", "USD",
                                                                               NOW.date(), NOW)
    assert new.source_url == httpserver.url_for("/price.json") and new.provider == "Example shop"
    assert not store.load(root).problems
    agent = httpserver.log[0][0].headers["User-Agent"]
    assert agent.startswith("costperf/")


def test_second_refresh_the_same_day_adds_nothing(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/price.json").respond_with_json({"data": {"price": 1799.0}})
    root = make_data(tmp_path, [json_source(httpserver.url_for("/price.json"))])
    assert run(root).ok
    digest = folder_hash(root)
    report = run(root)
    assert [o.status for o in report.outcomes] == ["unchanged"] and report.ok
    assert folder_hash(root) == digest


def test_dry_run_shows_the_diff_and_writes_nothing(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/price.json").respond_with_json({"data": {"price": "1799.00"}})
    root = make_data(tmp_path, [json_source(httpserver.url_for("/price.json"))])
    digest = folder_hash(root)

    result = CliRunner().invoke(main, ["prices", "refresh", "--dry-run", "--data", str(root)])

    assert result.exit_code == 0, result.output
    assert folder_hash(root) == digest
    assert "would add test-desktop / shop: 1,799 USD (purchase, 2026-" in result.output
    assert "+- amount: 1799.0" in result.output and "+  source: shop" in result.output
    assert "Dry run: no file was changed." in result.output


def test_vastai_source_records_the_median_of_matching_offers(tmp_path: Path, httpserver: HTTPServer) -> None:
    offers = [{"gpu_name": "RTX 4090", "num_gpus": 1, "dph_total": d} for d in (0.30, 0.40, 0.35, 0.90)]
    offers.append({"gpu_name": "RTX 3090", "num_gpus": 1, "dph_total": 0.10})  # another GPU: ignored
    httpserver.expect_request("/api/v0/bundles/").respond_with_json({"offers": offers})
    src = {"id": "vast-4090", "kind": "vastai", "url": httpserver.url_for("/api/v0/bundles/"),
           "gpu_name": "RTX 4090", "price_kind": "cloud_hourly"}
    root = make_data(tmp_path, [src])

    report = run(root)

    assert report.ok, report.outcomes
    price = store.load(root).machines["test-desktop"].prices[-1]
    assert price.kind == "cloud_hourly" and price.amount == pytest.approx(0.375)
    assert "median dph_total of 4 verified on-demand vast.ai offers for 1x RTX 4090" in (price.note or "")
    query = json.loads(httpserver.log[0][0].args["q"])
    assert query["gpu_name"] == {"eq": "RTX 4090"} and query["num_gpus"] == {"eq": 1}
    assert query["rentable"] == {"eq": True} and query["type"] == "on-demand"


def test_500_then_success_is_retried(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/price.json").respond_with_data("oops", status=500)
    httpserver.expect_ordered_request("/price.json").respond_with_json({"data": {"price": 1700}})
    root = make_data(tmp_path, [json_source(httpserver.url_for("/price.json"))])

    report = run(root)

    assert report.ok, report.outcomes
    assert len(httpserver.log) == 2
    assert store.load(root).machines["test-desktop"].prices[-1].amount == 1700


def test_429_waits_for_retry_after(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/price.json").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "1"})
    httpserver.expect_ordered_request("/price.json").respond_with_json({"data": {"price": 1650}})
    root = make_data(tmp_path, [json_source(httpserver.url_for("/price.json"))])

    start = time.monotonic()
    report = run(root)
    waited = time.monotonic() - start

    assert report.ok, report.outcomes
    assert len(httpserver.log) == 2
    # The backoff is 0.01 s: only the server's Retry-After explains a wait of a second.
    assert waited >= 0.95
    assert store.load(root).machines["test-desktop"].prices[-1].amount == 1650


# ---------------------------------------------------------------------------------------------
# Failures: the source is named with its reason, the last good price is kept, no byte changes


def chunked_huge(request: Request) -> Response:
    # A generator body is sent without Content-Length: the limit must hold while streaming too.
    return Response((b'{"pad": "' + b"x" * 4096 for _ in range(10)), content_type="application/json")


def slow(request: Request) -> Response:
    time.sleep(0.8)
    return Response(json.dumps({"data": {"price": 1700}}), content_type="application/json")


FAILURES: dict[str, tuple[Any, str]] = {
    "timeout": (slow, "read timeout (0.3 s)"),
    "500 forever": (("boom", 500, {}), "HTTP 500"),
    "429 forever": (("slow down", 429, {"Retry-After": "0"}), "429"),
    "malformed json": (('{"data": {"price": 17', 200, {"Content-Type": "application/json"}), "malformed JSON"),
    "html error page": (("<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>", 200,
                         {"Content-Type": "text/html; charset=utf-8"}), "HTML where JSON was expected"),
    "html labelled json": (("<html><body>Access denied</body></html>", 200,
                            {"Content-Type": "application/json"}), "HTML where JSON was expected"),
    "huge body": (('{"data": {"price": 1700}, "pad": "' + "x" * 20_000 + '"}', 200,
                   {"Content-Type": "application/json"}), "over the 10,000-byte limit"),
    "huge chunked body": (chunked_huge, "over the 10,000-byte limit"),
    "redirect to http": (("", 302, {"Location": "http://example.org/price.json"}),
                         "price.json: redirect refused http://example.org/price.json: only https://"),
    "zero price": ((json.dumps({"data": {"price": 0}}), 200, {"Content-Type": "application/json"}),
                   "refused non-positive"),
    "negative price": ((json.dumps({"data": {"price": -5.0}}), 200, {"Content-Type": "application/json"}),
                       "refused non-positive"),
    "text price": ((json.dumps({"data": {"price": "call us"}}), 200, {"Content-Type": "application/json"}),
                   "expected a price (a number); got 'call us'"),
    "null price": ((json.dumps({"data": {"price": None}}), 200, {"Content-Type": "application/json"}),
                   "got null"),
    "missing field": ((json.dumps({"data": {"cost": 1}}), 200, {"Content-Type": "application/json"}),
                      "no key 'price' at data (keys there: cost)"),
    "jump over 10x": ((json.dumps({"data": {"price": 20000}}), 200, {"Content-Type": "application/json"}),
                      "more than a 10x change, refused"),
    "drop over 10x": ((json.dumps({"data": {"price": 99}}), 200, {"Content-Type": "application/json"}),
                      "more than a 10x change, refused"),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_failure_keeps_data_byte_for_byte(case: str, tmp_path: Path, httpserver: HTTPServer) -> None:
    response, reason = FAILURES[case]
    handler = httpserver.expect_request("/price.json")
    if callable(response):
        handler.respond_with_handler(response)
    else:
        body, status, headers = response
        handler.respond_with_data(body, status=status, headers=headers)
    root = make_data(tmp_path, [json_source(httpserver.url_for("/price.json"))])
    digest = folder_hash(root)

    report = run(root)

    assert not report.ok
    assert folder_hash(root) == digest
    [outcome] = report.outcomes
    assert outcome.status in ("failed", "refused") and outcome.source == "shop"
    assert reason in outcome.message, outcome.message
    if "10x" not in reason:
        assert "kept last good price 1,599 USD (purchase, 2022-10-12)" in outcome.message


def test_cli_failure_names_source_and_reason_without_traceback(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/price.json").respond_with_data("boom", status=503)
    root = make_data(tmp_path, [json_source(httpserver.url_for("/price.json"))])
    digest = folder_hash(root)

    result = CliRunner().invoke(main, ["prices", "refresh", "--retries", "0", "--data", str(root)])

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "failed test-desktop / shop:" in result.output and "HTTP 503" in result.output
    assert "kept last good price" in result.output
    assert folder_hash(root) == digest


def test_accept_lets_a_big_jump_through(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/price.json").respond_with_json({"data": {"price": 20000}})
    root = make_data(tmp_path, [json_source(httpserver.url_for("/price.json"))])
    report = run(root, accept=True)
    assert report.ok and "[accepted with --accept]" in report.outcomes[0].message
    assert store.load(root).machines["test-desktop"].prices[-1].amount == 20000


def test_one_failing_source_does_not_block_another(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/good.json").respond_with_json({"data": {"price": 1750}})
    httpserver.expect_request("/bad.json").respond_with_data("<html>down</html>", content_type="text/html")
    good = json_source(httpserver.url_for("/good.json"))
    bad = {**json_source(httpserver.url_for("/bad.json")), "id": "other-shop"}
    root = make_data(tmp_path, [bad, good])

    report = run(root)

    assert {o.source: o.status for o in report.outcomes} == {"other-shop": "refused", "shop": "added"}
    prices = store.load(root).machines["test-desktop"].prices
    assert [p.amount for p in prices] == [1599, 1750]


def test_plain_http_is_refused_off_loopback_without_connecting(tmp_path: Path) -> None:
    root = make_data(tmp_path, [json_source("http://203.0.113.7/price.json")])
    digest = folder_hash(root)
    report = run(root)
    assert "only https://" in report.outcomes[0].message
    assert folder_hash(root) == digest


@pytest.mark.parametrize("url, allowed", [
    ("https://example.org/p.json", True), ("http://127.0.0.1:8080/p", True), ("http://localhost/p", True),
    ("http://[::1]:9/p", True), ("http://example.org/p.json", False), ("http://10.0.0.1/p", False),
    ("ftp://example.org/p", False), ("file:///etc/passwd", False),
])
def test_https_only_except_loopback(url: str, allowed: bool) -> None:
    if allowed:
        check_url(url)
    else:
        with pytest.raises(FetchError, match="only https://"):
            check_url(url)


def test_an_invalid_machine_file_is_named_not_skipped_silently(tmp_path: Path) -> None:
    root = make_data(tmp_path, [])
    (root / "machines" / "broken.yaml").write_text("id: broken\nname: 3\n")
    digest = folder_hash(root)
    result = CliRunner().invoke(main, ["prices", "refresh", "--data", str(root)])
    assert result.exit_code == 1 and "broken.yaml" in result.output and "Traceback" not in result.output
    assert folder_hash(root) == digest


def test_unknown_machine_is_a_clear_error(tmp_path: Path) -> None:
    root = make_data(tmp_path, [])
    result = CliRunner().invoke(main, ["prices", "refresh", "--machine", "nope", "--data", str(root)])
    assert result.exit_code == 1 and "no machine 'nope' (known: test-desktop)" in result.output


def test_a_source_is_compared_with_its_own_last_price(tmp_path: Path, httpserver: HTTPServer) -> None:
    # The machine's purchase price is 1599; this source last said 20000 (accepted then): 19000 is no jump.
    httpserver.expect_request("/price.json").respond_with_json({"data": {"price": 19000}})
    root = make_data(tmp_path, [json_source(httpserver.url_for("/price.json"))])
    path = machine_file(root)
    path.write_text(path.read_text().replace(
        "  note: launch price\n", "  note: launch price\n- amount: 20000\n  kind: purchase\n  date: 2025-01-01\n"
        "  source_url: https://example.org/b\n  source: shop\n", 1))
    assert store.load(root).machines["test-desktop"].prices[-1].amount == 20000
    report = run(root)
    assert report.ok, report.outcomes
    assert "19,000 USD (purchase, 2026-11-02) (was 20,000 USD (purchase, 2025-01-01))" in report.outcomes[0].message


def test_nothing_listening_is_a_connect_failure(tmp_path: Path) -> None:
    import socket  # noqa: PLC0415

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens on it now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = make_data(tmp_path, [json_source(f"http://127.0.0.1:{port}/price.json")])
    digest = folder_hash(root)
    report = run(root)
    assert report.outcomes[0].status == "failed" and "cannot connect" in report.outcomes[0].message
    assert folder_hash(root) == digest


@pytest.mark.parametrize("body, reason", [
    ({"offers": []}, "no on-demand offers for 1x 'RTX 4090' (0 offers returned)"),
    ({"offers": [{"gpu_name": "RTX 3090", "num_gpus": 1, "dph_total": 0.2}]}, "(1 offers returned)"),
    ({"error": "bad query"}, "expected an object with an `offers` list"),
    ({"offers": [{"gpu_name": "RTX 4090", "num_gpus": 1, "dph_total": -1}]}, "refused non-positive"),
])
def test_vastai_answers_without_a_usable_price(body: dict[str, Any], reason: str, tmp_path: Path,
                                               httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/v0/bundles/").respond_with_json(body)
    src = {"id": "vast-4090", "kind": "vastai", "url": httpserver.url_for("/api/v0/bundles/"),
           "gpu_name": "RTX 4090", "price_kind": "cloud_hourly"}
    root = make_data(tmp_path, [src])
    digest = folder_hash(root)
    report = run(root)
    assert report.outcomes[0].status == "refused" and reason in report.outcomes[0].message
    assert folder_hash(root) == digest
