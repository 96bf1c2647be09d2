"""Where webhooks may go, and the one HTTP request that takes them there.

A target is an ``https`` URL (``http`` only with WEBHOOKS_ALLOW_PRIVATE_TARGETS) whose host is
a public address: loopback, private, link-local (cloud metadata at 169.254.169.254), shared,
reserved and multicast addresses are refused, when the endpoint is created and again at every
delivery, after DNS resolution. The request then connects to the address that was checked
(not a second lookup, which a rebinding DNS server could answer differently), follows no
redirect, and is bounded in time and in the size of the answer it reads.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from core.errors import ApplicationError

CONNECT_TIMEOUT = 5.0
TOTAL_TIMEOUT = 10.0
MAX_RESPONSE_BYTES = 64 * 1024
EXCERPT_CHARS = 1000

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(ApplicationError):
    def __init__(self, message: str) -> None:
        super().__init__("invalid_url", message, "url", 400)


def _allow_private() -> bool:
    return bool(settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS)


def _public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


def target_check(url: str) -> Target:
    """The URL's parts, or TargetRefused. Literal addresses and ``localhost`` are checked here;
    names are resolved by :func:`target_resolve`."""
    parts = urlsplit(url)
    allow = _allow_private()
    if parts.scheme not in (("https", "http") if allow else ("https",)):
        raise TargetRefused("The URL must start with https://.")
    if parts.username or parts.password:
        raise TargetRefused("The URL must not carry a user name or password.")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise TargetRefused("The URL has no host.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise TargetRefused("The URL's port is not valid.") from None
    if not allow:
        if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
            raise TargetRefused("The URL must name a public host.")
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None and not _public(literal):
            raise TargetRefused("The URL must name a public address.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme=parts.scheme, host=host, port=port, path=path)


def target_resolve(target: Target) -> list[str]:
    """The target's addresses, each checked; TargetRefused if any is not public (unless the
    setting allows), or if the name does not resolve."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise TargetRefused("The URL's host does not resolve.") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not _allow_private():
        for address in addresses:
            if not _public(ipaddress.ip_address(address.split("%")[0])):
                raise TargetRefused("The URL's host resolves to a private address.")
    if not addresses:
        raise TargetRefused("The URL's host does not resolve.")
    return addresses


def target_check_at_creation(url: str) -> None:
    """Refuse a bad URL when an endpoint is created. A name that does not resolve yet is let
    through (DNS may come later): every delivery resolves and checks it again."""
    target = target_check(url)
    try:
        target_resolve(target)
    except TargetRefused as exc:
        if "does not resolve" not in exc.message:
            raise


@dataclass(frozen=True)
class PostResult:
    status_code: int | None
    duration_ms: int
    excerpt: str
    error: str

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _PinnedConnection(http.client.HTTPSConnection):
    """Connects to ``address`` while speaking to ``host`` (Host header, TLS name check)."""

    def __init__(self, host: str, port: int, address: str, tls: bool) -> None:
        super().__init__(host, port, timeout=CONNECT_TIMEOUT, context=ssl.create_default_context())
        self._address = address
        self._tls = tls

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), CONNECT_TIMEOUT)
        if self._tls:
            self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post(url: str, *, body: bytes, headers: dict[str, str]) -> PostResult:
    """POST ``body`` to ``url``; never raises for network trouble (the result says)."""
    started = time.monotonic()

    def done(status: int | None, excerpt: str = "", error: str = "") -> PostResult:
        return PostResult(
            status_code=status,
            duration_ms=int((time.monotonic() - started) * 1000),
            excerpt=excerpt,
            error=error[:300],
        )

    try:
        target = target_check(url)
        address = target_resolve(target)[0]
    except TargetRefused as exc:
        return done(None, error=f"refused: {exc.message}")
    connection = _PinnedConnection(target.host, target.port, address, tls=target.scheme == "https")
    try:
        connection.request(
            "POST",
            target.path,
            body=body,
            headers={
                **headers,
                "Content-Type": "application/json",
                "User-Agent": "InvoicePortal-Webhooks/1",
            },
        )
        response = connection.getresponse()
        chunks: list[bytes] = []
        size = 0
        while size < MAX_RESPONSE_BYTES:
            remaining = TOTAL_TIMEOUT - (time.monotonic() - started)
            if remaining <= 0:
                break
            if connection.sock is not None:
                connection.sock.settimeout(min(remaining, CONNECT_TIMEOUT))
            chunk = response.read1(min(8192, MAX_RESPONSE_BYTES - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        excerpt = b"".join(chunks).decode("utf-8", "replace")[:EXCERPT_CHARS]
        return done(response.status, excerpt=excerpt)
    except (OSError, http.client.HTTPException) as exc:
        return done(None, error=f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()
