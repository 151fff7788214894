"""Fetching a film from a URL without letting the URL reach inside the server's network (SSRF).

- Only http(s) URLs without credentials. The host is resolved once and every address it resolves to must be public
  (not loopback, private, link-local - which holds the cloud metadata address 169.254.169.254 -, shared, multicast
  or reserved), unless the host or the address is allowed by KISSWEB_URL_ALLOWED_HOSTS (names or CIDRs). The
  connection then goes to the address that was checked, so a second DNS answer cannot point it elsewhere.
- Redirects are followed by hand (at most MAX_REDIRECTS), each new location checked the same way.
- The size limit is enforced while the bytes arrive, whatever Content-Length says; a web page or other text is
  refused as soon as its headers or first bytes show it.
- A download has an overall deadline and a minimum rate (averaged over each `timeout_s`), and reads whatever has
  arrived, so a server that drips a few bytes at a time cannot hold a worker, and the progress callback (which may
  raise to cancel) runs between chunks.
- Errors people read never say how the network answered (refused, reset, closed, timed out): with an allowlisted
  server that would turn the error text into a port scanner. The details go to the log.
- Pages of a few named sites go through yt-dlp first (kissweb.library.url_sites); the file they point to is
  fetched here.

No Django here: the caller passes the limits and the allowlist.
"""

from __future__ import annotations

import hashlib
import http.client
import ipaddress
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

MAX_REDIRECTS = 5
CHUNK_BYTES = 1024 * 1024
USER_AGENT = "Kissweb/1.0 (+add from URL)"
# What a video file is never served as.
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/xhtml", "application/javascript")
HTML_STARTS = (b"<!doctype", b"<html", b"<head", b"<?xml", b"{")
Progress = Callable[[int, int | None], None]
log = logging.getLogger(__name__)


class UrlRefused(Exception):
    """The URL may not be fetched (scheme, credentials, or an address inside the network)."""


class DownloadTooLarge(Exception):
    def __init__(self, *, limit_bytes: int):
        super().__init__(limit_bytes)
        self.limit_bytes = limit_bytes


class NotVideoContent(Exception):
    """The URL answered with a web page or other text, not a video file."""


class DownloadFailed(Exception):
    """The server could not be reached, answered with an error, or stopped early."""


class DownloadTooSlow(DownloadFailed):
    """The download went past its deadline or below its minimum rate (trying again would hold a worker again)."""


@dataclass(frozen=True)
class Allowlist:
    hosts: frozenset[str] = frozenset()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> Allowlist:
        hosts, networks = set(), []
        for entry in (e.strip() for e in entries):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def allows_address(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(address in network for network in self.networks)


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # with the query
    address: str  # the checked address the connection goes to


@dataclass(frozen=True)
class Fetched:
    path: Path
    sha256: str
    size_bytes: int
    content_type: str
    filename: str  # from Content-Disposition or the URL's path; may be ""


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None) or getattr(address, "sixtofour", None)
    if mapped is not None:
        return is_public(mapped)
    return address.is_global and not address.is_multicast and not address.is_reserved


def check_url(url: str, *, allowed: Allowlist, resolve=socket.getaddrinfo) -> Target:
    """The connection target of url, or UrlRefused saying why it may not be fetched."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise UrlRefused(f"Only http:// and https:// addresses can be added (not '{parts.scheme or url[:20]}').")
    if parts.username or parts.password:
        raise UrlRefused("Addresses with a user name or password in them are not accepted.")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise UrlRefused("The address has no host name.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UrlRefused("The address has an invalid port number.") from None
    try:
        infos = resolve(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        log.info("add from URL: %s does not resolve: %s", host, exc)
        raise DownloadFailed(f"The host '{host}' could not be found.") from None
    addresses = []
    for info in infos:
        try:
            addresses.append(ipaddress.ip_address(info[4][0].split("%", 1)[0]))
        except ValueError:
            continue
    if not addresses:
        raise DownloadFailed(f"The host '{host}' has no usable address.")
    if host not in allowed.hosts:
        for address in addresses:
            if not is_public(address) and not allowed.allows_address(address):
                kind = _address_kind(address)
                where = f"'{host}' is {kind}" if host == str(address) else f"'{host}' points to {kind} ({address})"
                raise UrlRefused(
                    f"{where}; Kissweb does not fetch from addresses inside a private network (private, loopback, "
                    "link-local or metadata addresses). An administrator can allow a media server there with "
                    "KISSWEB_URL_ALLOWED_HOSTS."
                )
    path = parts.path or "/"
    if parts.query:
        path += f"?{parts.query}"
    return Target(parts.scheme, host, port, path, str(addresses[0]))


def _address_kind(address) -> str:
    """What kind of non-public address this is, for the refusal's sentence."""
    if address.is_loopback:
        return "a loopback address (this machine)"
    if address.is_link_local:
        return "a link-local address"
    if address.is_private:
        return "an address inside a private network"
    return "an address that is not on the public internet"


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout_s: float):
        super().__init__(target.host, target.port, timeout=timeout_s)
        self._address = target.address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout_s: float):
        super().__init__(target.host, target.port, timeout=timeout_s, context=ssl.create_default_context())
        self._address = target.address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _open(url: str, *, allowed: Allowlist, timeout_s: float, headers: dict[str, str] | None, deadline: _Deadline):
    """(connection, response, final url) after following redirects, each hop checked."""
    for _ in range(MAX_REDIRECTS + 1):
        target = check_url(url, allowed=allowed)
        connection = (_PinnedHTTPS if target.scheme == "https" else _PinnedHTTP)(target, timeout_s)
        try:
            connection.connect()
            deadline.watch(connection.sock)
            connection.request("GET", target.path, headers={
                "User-Agent": USER_AGENT, "Accept": "video/*, application/octet-stream;q=0.9, */*;q=0.5",
                **(headers or {}),
            })
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            log.info("add from URL: %s (%s port %s) failed: %r", target.host, target.address, target.port, exc)
            raise DownloadFailed(f"'{target.host}' did not answer with a file.") from None
        if response.status in (301, 302, 303, 307, 308):
            location = response.getheader("Location")
            connection.close()
            if not location:
                raise DownloadFailed(f"'{target.host}' answered with a redirect without a Location.")
            url = urljoin(url, location)
            continue
        return connection, response, url
    raise DownloadFailed(f"More than {MAX_REDIRECTS} redirects; the address does not lead to a file.")


def _filename(response, url: str) -> str:
    disposition = response.getheader("Content-Disposition") or ""
    match = re.search(r"filename\*=UTF-8''([^;]+)|filename=\"?([^\";]+)\"?", disposition, re.IGNORECASE)
    if match:
        return Path(unquote(match.group(1) or match.group(2))).name[:500]
    return Path(unquote(urlsplit(url).path)).name[:500]


class _Deadline:
    """Shuts the connection's socket down when the deadline passes, so that a server that sends nothing, or drips
    its headers, cannot keep the download past it."""

    def __init__(self, deadline_s: float | None):
        self.expired = False
        self._sock = None
        self._timer = threading.Timer(deadline_s, self._expire) if deadline_s else None
        if self._timer is not None:
            self._timer.daemon = True
            self._timer.start()

    def watch(self, sock) -> None:
        # The socket itself: http.client hands it from the connection to the response once the headers are read.
        self._sock = sock
        if self.expired:
            self._expire()

    def _expire(self) -> None:
        self.expired = True
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


def fetch(
    url: str, *, dest: Path, limit_bytes: int, allowed: Allowlist, progress: Progress | None = None,
    timeout_s: float = 30.0, headers: dict[str, str] | None = None, deadline_s: float | None = None,
    min_rate_bps: int = 0,
) -> Fetched:
    """Download url to dest (created; removed again on any failure), hashing it and enforcing limit_bytes.

    deadline_s: the most the whole download may take; min_rate_bps: the fewest bytes per second it must average over
    every `timeout_s` (DownloadTooSlow otherwise). `progress(received, total)` is called after every chunk read, and
    may raise to stop the download."""
    started = time.monotonic()
    deadline = _Deadline(deadline_s)
    written = False
    connection = None
    try:
        try:
            connection, response, final_url = _open(url, allowed=allowed, timeout_s=timeout_s, headers=headers,
                                                    deadline=deadline)
        except DownloadFailed:
            if deadline.expired:
                raise _too_late(deadline_s) from None
            raise
        if response.status != 200:
            raise DownloadFailed(f"The server answered with status {response.status} for this address.")
        content_type = (response.getheader("Content-Type") or "").split(";", 1)[0].strip().lower()
        if content_type.startswith(TEXT_TYPES):
            raise NotVideoContent(f"The address gives a web page or text ({content_type}), not a video file.")
        announced = response.getheader("Content-Length")
        total = int(announced) if announced and announced.isdigit() else None
        if total is not None and total > limit_bytes:
            raise DownloadTooLarge(limit_bytes=limit_bytes)
        hasher, received = hashlib.sha256(), 0
        window_start, window_bytes = started, 0
        dest.parent.mkdir(parents=True, exist_ok=True)
        written = True
        with dest.open("xb") as out:
            while True:
                try:
                    chunk = response.read1(CHUNK_BYTES)  # what has arrived: a drip still comes back to this loop
                except (OSError, http.client.HTTPException) as exc:
                    if deadline.expired:
                        raise _too_late(deadline_s) from None
                    log.info("add from URL: the transfer from %s broke off after %s bytes: %r", url, received, exc)
                    raise DownloadFailed(f"The download broke off after {received} bytes.") from None
                if deadline.expired:
                    raise _too_late(deadline_s)
                if not chunk:
                    break
                if received == 0 and chunk.lstrip()[:16].lower().startswith(HTML_STARTS):
                    raise NotVideoContent("The address gives a web page or text, not a video file.")
                received += len(chunk)
                if received > limit_bytes:
                    raise DownloadTooLarge(limit_bytes=limit_bytes)
                hasher.update(chunk)
                out.write(chunk)
                now = time.monotonic()
                window_bytes += len(chunk)
                if now - window_start >= timeout_s:
                    if min_rate_bps and window_bytes < min_rate_bps * (now - window_start):
                        raise DownloadTooSlow(
                            f"The server sent {window_bytes / (now - window_start):,.0f} bytes per second, below the "
                            f"minimum of {min_rate_bps:,} (KISSWEB_URL_MIN_RATE_BPS); the download was stopped."
                        )
                    window_start, window_bytes = now, 0
                if progress is not None:
                    progress(received, total)
        if total is not None and received != total:
            raise DownloadFailed(f"The download stopped after {received} of the {total} bytes the server announced.")
        if received == 0:
            raise NotVideoContent("The address gives an empty file.")
        return Fetched(dest, hasher.hexdigest(), received, content_type, _filename(response, final_url))
    except BaseException:
        if written:
            dest.unlink(missing_ok=True)
        raise
    finally:
        deadline.cancel()
        if connection is not None:
            connection.close()


def _too_late(deadline_s: float | None) -> DownloadTooSlow:
    return DownloadTooSlow(
        f"The download took longer than its limit of {deadline_s:,.0f} s (KISSWEB_URL_DEADLINE_S) and was stopped."
    )
