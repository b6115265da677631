"""Careful HTTP for price sources: https only, bounded in time and size, retried politely.

Every way a fetch can go wrong ends in one `FetchError` whose message names the URL and the reason
(timeout, status, HTML instead of JSON, too large ...), so a refresh can say which source failed
and keep the last good price.
"""

from __future__ import annotations

import ipaddress
import json
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from collectors.safe_load import UnsafeInput, load_json


def _version() -> str:
    try:
        return version("costperf")
    except PackageNotFoundError:
        return "0+unknown"


USER_AGENT = f"costperf/{_version()} (price refresh; python-requests/{requests.__version__})"
RETRY_STATUSES = (429, 500, 502, 503, 504)


class FetchError(Exception):
    """A price source could not be read; the message says why."""


class RefusedPrice(FetchError):
    """The source answered, but not with a usable price (HTML, malformed JSON, not a positive number)."""


@dataclass(frozen=True)
class HttpSettings:
    """Limits of one refresh. Tests shrink the waits through these, never by patching."""

    connect_timeout_s: float = 5.0
    read_timeout_s: float = 20.0
    retries: int = 3
    backoff_factor_s: float = 1.0
    backoff_max_s: float = 30.0
    retry_after_max_s: float = 60.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    deadline_s: float = 90.0
    """Whole fetch of one source, retries and a slow trickle of bytes included."""
    user_agent: str = USER_AGENT


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The host's addresses: itself if it is one, else what it resolves to (none if it does not)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    if host == "localhost" or host.endswith(".localhost"):
        return [ipaddress.ip_address("127.0.0.1")]
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []  # the fetch itself will say it cannot connect
    out = []
    for info in infos:
        try:
            out.append(ipaddress.ip_address(str(info[4][0]).split("%")[0]))
        except ValueError:
            continue
    return out


def _internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    address = mapped or address
    return (address.is_private or address.is_loopback or address.is_link_local or address.is_reserved
            or address.is_multicast or address.is_unspecified)


def check_url(url: str, origin: str | None = None) -> None:
    """https to public addresses; plain http only to this machine (the tests' local server).

    A private, link-local or otherwise internal address is refused, so a data file or a redirect
    cannot point a refresh at the network it runs in. Loopback is allowed only where the source
    itself is on loopback (`origin`, the address a redirect comes from; a source names its own).
    """
    parts = urlsplit(url)
    host = parts.hostname
    if not host or parts.scheme not in ("https", "http"):
        raise FetchError(f"refused {url}: only https:// addresses are fetched (http:// only for loopback)")
    loopback_ok = origin is None or is_loopback(urlsplit(origin).hostname or "")
    addresses = _addresses(host)
    if parts.scheme == "http" and not (is_loopback(host) and loopback_ok):
        raise FetchError(f"refused {url}: only https:// addresses are fetched (http:// only for loopback)")
    for address in addresses:
        if address.is_loopback and loopback_ok:
            continue
        if _internal(address):
            raise FetchError(f"refused {url}: {host} is a loopback, private or reserved address ({address}); "
                             "prices are read from public sites only")


class _Retry(Retry):
    """urllib3's Retry, with the server's Retry-After capped: a refresh must not hang for an hour."""

    def __init__(self, *args: Any, retry_after_max_s: float = 60.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after_max_s = retry_after_max_s

    def new(self, **kw: Any) -> _Retry:
        retry = super().new(**kw)
        retry.retry_after_max_s = self.retry_after_max_s  # type: ignore[attr-defined]
        return retry  # type: ignore[return-value]

    def get_retry_after(self, response: Any) -> float | None:
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, self.retry_after_max_s)


class _Session(requests.Session):
    """A Session that refuses to follow a redirect to anything `check_url` refuses."""

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        target = super().get_redirect_target(resp)
        if target is not None:
            try:
                check_url(urljoin(resp.url, target), origin=resp.url)
            except FetchError as exc:
                raise FetchError(f"{resp.url}: redirect {exc}") from None
        return target


def make_session(settings: HttpSettings = HttpSettings()) -> requests.Session:
    session = _Session()
    session.max_redirects = settings.max_redirects
    session.headers.update({"User-Agent": settings.user_agent, "Accept": "application/json"})
    retry = _Retry(
        total=settings.retries,
        connect=settings.retries,
        read=settings.retries,
        status=settings.retries,
        other=0,
        allowed_methods=frozenset({"GET"}),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=settings.backoff_factor_s,
        backoff_max=settings.backoff_max_s,
        respect_retry_after_header=True,
        raise_on_status=False,
        retry_after_max_s=settings.retry_after_max_s,
    )
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class _DeadlinePassed(BaseException):
    """Raised by the timer inside whatever blocking call the fetch is in (a BaseException, so that no
    `except Exception` on the way turns it into a retry)."""


@contextmanager
def deadline(seconds: float) -> Iterator[float]:
    """Interrupt the block after `seconds` (a timer signal, where this is the main thread; elsewhere
    the body loop checks the returned monotonic end time)."""
    end = time.monotonic() + seconds
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield end
        return

    def on_alarm(signum: int, frame: object) -> None:
        raise _DeadlinePassed

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield end
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _read_capped(resp: requests.Response, max_bytes: int, end: float) -> bytes:
    declared = resp.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"{resp.url}: response of {int(declared):,} bytes is over the {max_bytes:,}-byte limit")
    body = bytearray()
    # read1 returns what one receive brings, so a trickle of bytes still reaches the deadline check.
    while chunk := resp.raw.read1(65536, decode_content=True):
        body += chunk
        if len(body) > max_bytes:
            raise FetchError(f"{resp.url}: response is over the {max_bytes:,}-byte limit")
        if time.monotonic() > end:
            raise _DeadlinePassed
    return bytes(body)


def _looks_like_html(content_type: str, body: bytes) -> bool:
    head = body[:512].lstrip()
    # JSON never starts with '<'; error pages often arrive labelled application/json.
    return "html" in content_type.lower() or head.startswith(b"<")


def get_json(session: requests.Session, url: str, settings: HttpSettings = HttpSettings(),
             params: dict[str, str] | None = None) -> Any:
    """GET `url` and return its JSON; raise FetchError naming the reason for anything else."""
    check_url(url)
    try:
        with deadline(settings.deadline_s) as end:
            return _get_json(session, url, settings, params, end)
    except _DeadlinePassed:
        raise FetchError(f"{url}: no complete answer within the {settings.deadline_s:g} s deadline "
                         "for one source") from None


def _get_json(session: requests.Session, url: str, settings: HttpSettings, params: dict[str, str] | None,
              end: float) -> Any:
    try:
        resp = session.get(url, params=params, timeout=(settings.connect_timeout_s, settings.read_timeout_s),
                           stream=True, allow_redirects=True)
    except FetchError:
        raise
    except requests.exceptions.RetryError as exc:
        raise FetchError(f"{url}: gave up after {settings.retries} retries ({_reason(exc)})") from None
    except requests.exceptions.ConnectTimeout:
        raise FetchError(f"{url}: connect timeout ({settings.connect_timeout_s:g} s), "
                         f"{settings.retries} retries") from None
    except (requests.exceptions.ReadTimeout, requests.exceptions.Timeout):
        raise FetchError(f"{url}: read timeout ({settings.read_timeout_s:g} s), {settings.retries} retries") from None
    except requests.exceptions.TooManyRedirects:
        raise FetchError(f"{url}: more than {settings.max_redirects} redirects") from None
    except requests.exceptions.ConnectionError as exc:
        if "Read timed out" in str(exc):
            raise FetchError(f"{url}: read timeout ({settings.read_timeout_s:g} s), "
                             f"{settings.retries} retries") from None
        raise FetchError(f"{url}: cannot connect ({_reason(exc)})") from None
    except requests.exceptions.RequestException as exc:
        raise FetchError(f"{url}: {_reason(exc)}") from None
    with resp:
        try:
            body = _read_capped(resp, settings.max_bytes, end)
        except urllib3.exceptions.ReadTimeoutError:
            raise FetchError(f"{url}: read timeout ({settings.read_timeout_s:g} s) in the middle of the answer") from None
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise FetchError(f"{url}: reading the response failed ({_reason(exc)})") from None
        where = f"{url} (redirected to {resp.url})" if resp.history else url
        if resp.status_code != 200:
            extra = f" after {settings.retries} retries" if resp.status_code in RETRY_STATUSES else ""
            raise FetchError(f"{where}: HTTP {resp.status_code} {resp.reason}{extra}")
        content_type = resp.headers.get("Content-Type", "")
        if _looks_like_html(content_type, body):
            start = body[:60].decode("utf-8", "replace").strip().replace("\n", " ")
            raise RefusedPrice(f"{where}: HTML where JSON was expected (Content-Type {content_type or 'none'!r}, "
                             f"starts {start!r})")
        try:
            return load_json(body.decode("utf-8-sig"))  # RFC 8259: JSON between systems is UTF-8
        except UnicodeDecodeError:
            raise RefusedPrice(f"{where}: response is not UTF-8 text") from None
        except UnsafeInput as exc:
            raise RefusedPrice(f"{where}: refused JSON ({exc})") from None
        except json.JSONDecodeError as exc:
            raise RefusedPrice(f"{where}: malformed JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None


def _reason(exc: BaseException) -> str:
    """The innermost cause, which says more than requests' wrapper ('Max retries exceeded ...')."""
    inner: BaseException = exc
    while True:
        nxt = getattr(inner, "reason", None) or inner.__cause__ or inner.__context__
        if nxt is None or nxt is inner or not isinstance(nxt, BaseException):
            break
        inner = nxt
    return str(inner)[:200]
