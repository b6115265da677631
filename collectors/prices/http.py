"""Careful HTTP for price sources: https only, bounded in time and size, retried politely.

Every way a fetch can go wrong ends in one `FetchError` whose message names the URL and the reason
(timeout, status, HTML instead of JSON, too large ...), so a refresh can say which source failed
and keep the last good price.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry



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
    user_agent: str = USER_AGENT


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> None:
    """https anywhere; plain http only to this machine (the tests' local server)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return
    raise FetchError(f"refused {url}: only https:// addresses are fetched (http:// only for loopback)")


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
                check_url(urljoin(resp.url, target))
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


def _read_capped(resp: requests.Response, max_bytes: int) -> bytes:
    declared = resp.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"{resp.url}: response of {int(declared):,} bytes is over the {max_bytes:,}-byte limit")
    body = bytearray()
    for chunk in resp.iter_content(chunk_size=65536):
        body += chunk
        if len(body) > max_bytes:
            raise FetchError(f"{resp.url}: response is over the {max_bytes:,}-byte limit")
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
            body = _read_capped(resp, settings.max_bytes)
        except requests.exceptions.RequestException as exc:
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
            return json.loads(body.decode("utf-8-sig"))  # RFC 8259: JSON between systems is UTF-8
        except UnicodeDecodeError:
            raise RefusedPrice(f"{where}: response is not UTF-8 text") from None
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
