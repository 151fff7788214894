"""Getting the published model, against a local HTTP server (127.0.0.1 only) that imitates its host: a large-file
confirmation page (a GET form, or an older link with confirm=), a cookie, Range requests, connections cut midway."""

from __future__ import annotations

import hashlib
import http.server
import json
import socket
import threading
import urllib.parse

import numpy as np
import pytest

from detector.__main__ import main
from detector.errors import DownloadError
from detector.fetch import confirmation_url, download_file, fetch_published_model
from detector.head import load_model

CONTENT = bytes(np.random.default_rng(7).integers(0, 256, size=3_000_000, dtype=np.uint8))


class FakeDrive(http.server.ThreadingHTTPServer):
    """/uc?export=download&id=ID -> the 'download anyway' page; /download?...&confirm=t -> the file, with Range.

    cut_after: bytes sent by the first `cuts` file responses before the connection is closed.
    """

    daemon_threads = True

    def __init__(self, content: bytes, *, page: str = "form", cut_after: int | None = None, cuts: int = 1,
                 honour_range: bool = True) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.content, self.page, self.cut_after, self.cuts, self.honour_range = (
            content, page, cut_after, cuts, honour_range)
        self.requests: list[tuple[str, str | None]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/uc?export=download&id=FILEID"


class Handler(http.server.BaseHTTPRequestHandler):
    server: FakeDrive

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        drive = self.server
        drive.requests.append((self.path, self.headers.get("Range")))
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/uc":
            self._confirmation_page(drive.page)
        elif url.path == "/download" and query.get("confirm") and query.get("id") == "FILEID":
            if drive.page == "link" and "download_warning=token123" not in (self.headers.get("Cookie") or ""):
                self._confirmation_page("link")  # the old flow needs the cookie the page set
                return
            self._file(drive)
        else:
            self.send_error(404)

    def _confirmation_page(self, kind: str) -> None:
        if kind == "form":
            body = (
                "<html><head><title>Google Drive - Virus scan warning</title></head><body>"
                "<p>model.pkl (318M) is too large for Google to scan for viruses.</p>"
                '<form id="download-form" action="/download" method="get">'
                '<input type="submit" id="uc-download-link" value="Download anyway"/>'
                '<input type="hidden" name="id" value="FILEID"><input type="hidden" name="export" value="download">'
                '<input type="hidden" name="confirm" value="t"><input type="hidden" name="uuid" value="u-1"></form>'
                "</body></html>"
            )
        elif kind == "link":
            body = ('<html><title>Google Drive</title><a id="uc-download-link" '
                    'href="/download?export=download&amp;confirm=token123&amp;id=FILEID">Download anyway</a></html>')
        else:
            body = "<html><head><title>Google Drive - Quota exceeded</title></head><body>Too many users</body></html>"
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        if kind == "link":
            self.send_header("Set-Cookie", "download_warning=token123; Path=/")
        self.end_headers()
        self.wfile.write(data)

    def _file(self, drive: FakeDrive) -> None:
        content, start = drive.content, 0
        wanted = self.headers.get("Range")
        if wanted and drive.honour_range:
            start = int(wanted.removeprefix("bytes=").split("-")[0])
            if start >= len(content):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(content)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(content) - 1}/{len(content)}")
        else:
            self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(content) - start))
        self.end_headers()
        body = content[start:]
        if drive.cut_after is not None and drive.cuts > 0:
            drive.cuts -= 1
            self.wfile.write(body[:drive.cut_after])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)  # the connection breaks off mid-file
            return
        self.wfile.write(body)


@pytest.fixture
def drive():
    servers = []

    def start(content: bytes = CONTENT, **options) -> FakeDrive:
        server = FakeDrive(content, **options)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _file_requests(server: FakeDrive) -> list[str | None]:
    return [rng for path, rng in server.requests if path.startswith("/download")]


@pytest.mark.parametrize("page", ["form", "link"])
def test_the_confirmation_page_is_followed(drive, tmp_path, page):
    server = drive(page=page)
    seen = []
    result = download_file(server.url, tmp_path / "model.pkl", progress=lambda *a: seen.append(a))
    assert (tmp_path / "model.pkl").read_bytes() == CONTENT
    assert result.sha256 == hashlib.sha256(CONTENT).hexdigest() and result.size == len(CONTENT)
    assert server.requests[0][0].startswith("/uc") and _file_requests(server)[-1] is None
    assert ("download", len(CONTENT), len(CONTENT)) in seen and seen[-1][0] == "checksum"
    assert not (tmp_path / "model.pkl.part").exists()


def test_a_cut_connection_is_resumed_with_a_range_request(drive, tmp_path):
    server = drive(cut_after=1_000_000, cuts=2)
    result = download_file(server.url, tmp_path / "model.pkl")
    assert (tmp_path / "model.pkl").read_bytes() == CONTENT
    assert result.resumed == 2
    assert _file_requests(server) == [None, "bytes=1000000-", "bytes=2000000-"]


def test_a_partial_download_from_an_earlier_run_is_resumed(drive, tmp_path):
    server = drive()
    (tmp_path / "model.pkl.part").write_bytes(CONTENT[:1_234_567])
    download_file(server.url, tmp_path / "model.pkl")
    assert (tmp_path / "model.pkl").read_bytes() == CONTENT
    assert _file_requests(server) == ["bytes=1234567-"]


def test_a_server_that_ignores_range_starts_again(drive, tmp_path):
    server = drive(cut_after=500_000, honour_range=False)
    result = download_file(server.url, tmp_path / "model.pkl")
    assert (tmp_path / "model.pkl").read_bytes() == CONTENT and result.resumed == 0


def test_a_checksum_mismatch_keeps_nothing(drive, tmp_path):
    server = drive()
    with pytest.raises(DownloadError, match="SHA-256") as error:
        download_file(server.url, tmp_path / "model.pkl", expected_sha256="0" * 64)
    assert hashlib.sha256(CONTENT).hexdigest() in str(error.value)
    assert list(tmp_path.iterdir()) == []


def test_a_page_without_a_confirmation_is_a_clear_error(drive, tmp_path):
    server = drive(page="quota")
    with pytest.raises(DownloadError, match="Quota exceeded"):
        download_file(server.url, tmp_path / "model.pkl")
    assert list(tmp_path.iterdir()) == []


def test_offline_says_how_to_download_by_hand_and_upload(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DownloadError) as error:
        fetch_published_model(tmp_path, url=f"http://127.0.0.1:{port}/uc?export=download&id=X", timeout_s=5)
    message = str(error.value)
    assert "no internet" in message and "by hand" in message
    assert "drive.google.com/file/d/1RlvvdInTXtJikGv_ZbHcKoblCypN1Z0A" in message
    assert "scene type page" in message and "./kiss manage activate_model model.pkl" in message
    assert list(tmp_path.iterdir()) == []
    assert main(["fetch-published-model", "-o", str(tmp_path), "--url", f"http://127.0.0.1:{port}/uc"]) == 1


def test_confirmation_url_of_the_hosts_current_page():
    page = ('<form id="download-form" action="https://drive.usercontent.google.com/download" method="get">'
            '<input type="hidden" name="id" value="ABC"><input type="hidden" name="confirm" value="t"></form>')
    assert confirmation_url(page, "https://drive.google.com/uc?id=ABC") == (
        "https://drive.usercontent.google.com/download?id=ABC&confirm=t")
    assert confirmation_url("<html>nothing</html>", "https://drive.google.com/uc") is None


def test_fetch_downloads_imports_and_records_the_download_in_the_card(drive, tmp_path, capsys):
    from tests.published_model import write_published_pickle

    module, pickle_path = write_published_pickle(tmp_path / "source" / "model.pkl", seed=4)
    content = pickle_path.read_bytes()
    server = drive(content, cut_after=len(content) // 3)
    out = tmp_path / "models"
    assert main(["fetch-published-model", "-o", str(out), "--url", server.url,
                 "--sha256", hashlib.sha256(content).hexdigest()]) == 0
    printed = json.loads(capsys.readouterr().out)
    model = load_model(printed["model"], verify_backbones=True)
    download = model.card["training"]["download"]
    assert download["sha256"] == hashlib.sha256(content).hexdigest() == model.card["training"]["source_sha256"]
    assert download["bytes"] == len(content) and download["url"] == server.url
    assert (model.backbone_set, model.channel_order) == ("published", "BGR")
    np.testing.assert_array_equal(model.weight, module.combined.weight.detach().numpy())
    assert sorted(p.name for p in out.iterdir()) == ["published.card.json", "published.safetensors"]


def test_network_failures_are_said_in_words_not_errno():
    """Issue 19 item 18: the message carried "[Errno -2] Name or service not known"."""
    import urllib.error

    from detector.fetch import network_reason

    lookup = urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))
    assert network_reason(lookup) == "its name could not be looked up (no DNS answer: is this machine offline?)"
    assert network_reason(urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))).startswith(
        "the connection was refused")
    assert network_reason(urllib.error.URLError(OSError(101, "Network is unreachable"))) == "network is unreachable"


def test_an_unreachable_host_is_refused_in_words(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DownloadError) as refused:
        download_file(f"http://127.0.0.1:{port}/uc?id=X", tmp_path / "model.pkl", retries=0)
    message = str(refused.value)
    assert f"Could not reach 127.0.0.1:{port}: the connection was refused" in message
    assert "Errno" not in message
