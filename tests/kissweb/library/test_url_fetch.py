"""Fetching from a URL: the SSRF checks, redirects checked again, size limits while downloading, web pages refused.
Against a local HTTP server on 127.0.0.1 (allowlisted where a test needs it); nothing leaves the machine."""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import threading
import time

import pytest

from kissweb.library import url_fetch
from kissweb.library.url_fetch import (
    Allowlist, DownloadFailed, DownloadTooLarge, DownloadTooSlow, NotVideoContent, UrlRefused,
)
from tests.httpserver import FilmServer, chunked, drip

LOCAL = Allowlist.parse(["127.0.0.1"])


def nothing_in(folder) -> bool:
    return not folder.exists() or not any(folder.iterdir())


@pytest.fixture
def server(small_video):
    with FilmServer() as s:
        s.serve_file("/film.mp4", small_video)
        yield s


def fake_dns(mapping):
    def resolve(host, port, type=0):  # noqa: A002 - getaddrinfo's name
        family = socket.AF_INET6 if ":" in mapping[host] else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (mapping[host], port))]

    return resolve


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.5", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1",
    "fe80::1", "fd00:ec2::254", "::ffff:127.0.0.1", "224.0.0.1", "240.0.0.1",
])
def test_names_that_resolve_inside_the_network_are_refused(address):
    with pytest.raises(UrlRefused, match="private network"):
        url_fetch.check_url("https://media.example/film.mp4", allowed=Allowlist(),
                            resolve=fake_dns({"media.example": address}))


def test_a_link_local_address_is_called_so_and_named_once():
    """Issue 19 item 22: not "points inside a private network" with the address twice."""
    with pytest.raises(UrlRefused) as refused:
        url_fetch.check_url("http://169.254.169.254/latest/meta-data/", allowed=Allowlist(),
                            resolve=fake_dns({"169.254.169.254": "169.254.169.254"}))
    message = str(refused.value)
    assert message.startswith("'169.254.169.254' is a link-local address;")
    assert message.count("169.254.169.254") == 1
    with pytest.raises(UrlRefused, match=r"'media.example' points to a loopback address \(this machine\) \(127.0.0.1\)"):
        url_fetch.check_url("https://media.example/film.mp4", allowed=Allowlist(),
                            resolve=fake_dns({"media.example": "127.0.0.1"}))


def test_public_addresses_pass_and_the_checked_address_is_the_one_used():
    target = url_fetch.check_url("https://media.example:8443/a/film.mp4?x=1", allowed=Allowlist(),
                                 resolve=fake_dns({"media.example": "93.184.215.14"}))
    assert (target.host, target.port, target.path, target.address) == (
        "media.example", 8443, "/a/film.mp4?x=1", "93.184.215.14")


def test_the_allowlist_takes_names_and_cidrs():
    allowed = Allowlist.parse(["nas.local", " 10.0.0.0/8 ", ""])
    assert allowed.hosts == {"nas.local"} and allowed.networks == (ipaddress.ip_network("10.0.0.0/8"),)
    dns = fake_dns({"nas.local": "192.168.1.20", "media.lan": "10.2.3.4", "other.lan": "192.168.1.21"})
    assert url_fetch.check_url("http://nas.local/f.mp4", allowed=allowed, resolve=dns).address == "192.168.1.20"
    assert url_fetch.check_url("http://media.lan/f.mp4", allowed=allowed, resolve=dns).address == "10.2.3.4"
    with pytest.raises(UrlRefused):
        url_fetch.check_url("http://other.lan/f.mp4", allowed=allowed, resolve=dns)


@pytest.mark.parametrize("url, words", [
    ("ftp://example.com/film.mp4", "Only http"), ("file:///etc/passwd", "Only http"),
    ("https://user:secret@example.com/film.mp4", "user name or password"), ("https:///film.mp4", "no host"),
])
def test_other_schemes_and_credentials_are_refused(url, words):
    with pytest.raises(UrlRefused, match=words):
        url_fetch.check_url(url, allowed=Allowlist())


def test_an_allowlisted_local_server_gives_the_film(server, small_video, tmp_path):
    seen = []
    got = url_fetch.fetch(server.url("/film.mp4"), dest=tmp_path / "dl" / "f.part", limit_bytes=10**8, allowed=LOCAL,
                          progress=lambda done, total: seen.append((done, total)))
    content = small_video.read_bytes()
    assert got.path.read_bytes() == content and got.sha256 == hashlib.sha256(content).hexdigest()
    assert (got.size_bytes, got.content_type, got.filename) == (len(content), "video/mp4", "film.mp4")
    assert seen[-1] == (len(content), len(content))


def test_the_local_server_without_the_allowlist_is_never_contacted(server, tmp_path):
    with pytest.raises(UrlRefused, match="127.0.0.1"):
        url_fetch.fetch(server.url("/film.mp4"), dest=tmp_path / "dl" / "f.part", limit_bytes=10**8,
                        allowed=Allowlist())
    assert server.requests == [] and nothing_in(tmp_path / "dl")


def test_a_redirect_to_a_private_address_is_refused(server, tmp_path):
    server.routes["/go"] = (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b"")
    with pytest.raises(UrlRefused, match="169.254.169.254"):
        url_fetch.fetch(server.url("/go"), dest=tmp_path / "dl" / "f.part", limit_bytes=10**8, allowed=LOCAL)
    assert server.requests == ["/go"] and nothing_in(tmp_path / "dl")


def test_a_redirect_to_an_allowed_place_is_followed(server, small_video, tmp_path):
    server.routes["/go"] = (301, {"Location": "/film.mp4"}, b"")
    got = url_fetch.fetch(server.url("/go"), dest=tmp_path / "dl" / "f.part", limit_bytes=10**8, allowed=LOCAL)
    assert got.size_bytes == small_video.stat().st_size and server.requests == ["/go", "/film.mp4"]


def test_too_large_content_length_is_refused_before_the_body(server, tmp_path):
    server.routes["/big"] = (200, {"Content-Type": "video/mp4", "Content-Length": str(10**9)}, b"x" * 10)
    with pytest.raises(DownloadTooLarge):
        url_fetch.fetch(server.url("/big"), dest=tmp_path / "dl" / "f.part", limit_bytes=10**6, allowed=LOCAL)
    assert nothing_in(tmp_path / "dl")


def test_a_body_without_a_length_is_stopped_at_the_limit(server, tmp_path):
    server.routes["/endless"] = (200, {"Content-Type": "video/mp4", "Transfer-Encoding": "chunked"},
                                 chunked(5 * 10**6))
    with pytest.raises(DownloadTooLarge):
        url_fetch.fetch(server.url("/endless"), dest=tmp_path / "dl" / "f.part", limit_bytes=10**6, allowed=LOCAL)
    assert nothing_in(tmp_path / "dl")


def test_a_body_shorter_than_its_announced_length_is_refused(server, tmp_path):
    def short(out):
        out.write(b"\0" * 1000)

    server.routes["/short"] = (200, {"Content-Type": "video/mp4", "Content-Length": "500000"}, short)
    with pytest.raises(DownloadFailed, match="1000 of the 500000"):
        url_fetch.fetch(server.url("/short"), dest=tmp_path / "dl" / "f.part", limit_bytes=10**6, allowed=LOCAL)
    assert nothing_in(tmp_path / "dl")


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "application/octet-stream"])
def test_a_web_page_is_refused(server, tmp_path, content_type):
    server.routes["/page"] = (200, {"Content-Type": content_type}, b"<!DOCTYPE html><html><body>hi</body></html>")
    with pytest.raises(NotVideoContent, match="web page"):
        url_fetch.fetch(server.url("/page"), dest=tmp_path / "dl" / "f.part", limit_bytes=10**6, allowed=LOCAL)
    assert nothing_in(tmp_path / "dl")


def test_an_error_status_is_reported(server, tmp_path):
    with pytest.raises(DownloadFailed, match="404"):
        url_fetch.fetch(server.url("/missing.mp4"), dest=tmp_path / "dl" / "f.part", limit_bytes=10**6, allowed=LOCAL)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _hang_up_server():
    """A server on 127.0.0.1 that accepts a connection and closes it without a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener


def test_network_errors_do_not_say_what_answered(tmp_path):
    """A port nobody listens on and a server that hangs up read the same, so the error is no port scanner."""
    listener = _hang_up_server()
    messages = []
    try:
        for port in (_closed_port(), listener.getsockname()[1]):
            with pytest.raises(DownloadFailed) as failed:
                url_fetch.fetch(f"http://127.0.0.1:{port}/f.mp4", dest=tmp_path / "dl" / "f.part",
                                limit_bytes=10**6, allowed=LOCAL, timeout_s=5)
            messages.append(str(failed.value))
    finally:
        listener.close()
    assert messages[0] == messages[1] == "'127.0.0.1' did not answer with a file."


def test_a_dripping_server_is_stopped_at_the_deadline(server, tmp_path):
    server.routes["/drip.mp4"] = (200, {"Content-Type": "video/mp4", "Content-Length": "1000000"}, drip())
    started = time.monotonic()
    with pytest.raises(DownloadTooSlow, match="longer than its limit of 1 s"):
        url_fetch.fetch(server.url("/drip.mp4"), dest=tmp_path / "dl" / "f.part", limit_bytes=10**6,
                        allowed=LOCAL, deadline_s=1)
    assert time.monotonic() - started < 5 and nothing_in(tmp_path / "dl")


def test_a_silent_server_is_stopped_at_the_deadline_not_at_its_read_timeout(server, tmp_path):
    server.routes["/silent.mp4"] = (200, {"Content-Type": "video/mp4", "Content-Length": "1000000"},
                                    lambda out: time.sleep(20))
    started = time.monotonic()
    with pytest.raises(DownloadTooSlow, match="longer than"):
        url_fetch.fetch(server.url("/silent.mp4"), dest=tmp_path / "dl" / "f.part", limit_bytes=10**6,
                        allowed=LOCAL, timeout_s=30, deadline_s=1)
    assert time.monotonic() - started < 5


def test_a_server_below_the_minimum_rate_is_stopped(server, tmp_path):
    server.routes["/drip.mp4"] = (200, {"Content-Type": "video/mp4", "Content-Length": "1000000"}, drip())
    started = time.monotonic()
    with pytest.raises(DownloadTooSlow, match="below the minimum of 1,000"):
        url_fetch.fetch(server.url("/drip.mp4"), dest=tmp_path / "dl" / "f.part", limit_bytes=10**6,
                        allowed=LOCAL, timeout_s=1, min_rate_bps=1000)
    assert time.monotonic() - started < 5 and nothing_in(tmp_path / "dl")


def test_the_progress_callback_runs_between_small_chunks_and_can_stop_the_download(server, tmp_path):
    """A cancel is noticed at the next chunk, not when a megabyte has arrived."""
    server.routes["/drip.mp4"] = (200, {"Content-Type": "video/mp4", "Content-Length": "1000000"}, drip())

    class Cancelled(Exception):
        pass

    calls = []

    def progress(done, total):
        calls.append(done)
        if len(calls) == 3:
            raise Cancelled

    started = time.monotonic()
    with pytest.raises(Cancelled):
        url_fetch.fetch(server.url("/drip.mp4"), dest=tmp_path / "dl" / "f.part", limit_bytes=10**6,
                        allowed=LOCAL, progress=progress)
    assert calls == [10, 20, 30] and time.monotonic() - started < 5 and nothing_in(tmp_path / "dl")
