"""A local HTTP server on 127.0.0.1 (or another loopback address, e.g. a trap on 127.0.0.2) for the add-from-URL tests: it serves a generated film and the ways a server can
misbehave (redirects inside the network, web pages, lengths that lie). Nothing leaves the machine."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class FilmServer:
    """`routes` maps a path to (status, headers, body bytes or a callable writing the body); `requests` counts."""

    def __init__(self, host: str = "127.0.0.1"):
        self.routes: dict[str, tuple[int, dict[str, str], object]] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 - the stdlib's name
                server.requests.append(self.path)
                status, headers, body = server.routes.get(self.path, (404, {"Content-Type": "text/plain"}, b"nope"))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if isinstance(body, bytes) and "Content-Length" not in headers and \
                        headers.get("Transfer-Encoding") != "chunked":
                    self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    if callable(body):
                        body(self.wfile)
                    else:
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            def log_message(self, *args):  # quiet
                pass

        if not host.startswith("127."):
            raise ValueError("test servers listen on loopback only")
        self.host = host
        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def serve_file(self, path: str, file: Path, *, content_type: str = "video/mp4", **headers: str) -> None:
        self.routes[path] = (200, {"Content-Type": content_type, **headers}, file.read_bytes())

    def __enter__(self) -> FilmServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def chunked(total_bytes: int, *, piece: int = 64 * 1024):
    """A body writer that sends total_bytes in chunked encoding, with no length announced."""

    def write(out) -> None:
        sent = 0
        while sent < total_bytes:
            n = min(piece, total_bytes - sent)
            out.write(f"{n:x}\r\n".encode() + b"\0" * n + b"\r\n")
            sent += n
        out.write(b"0\r\n\r\n")

    return write


def drip(*, piece: bytes = b"\0" * 10, every_s: float = 0.3, for_s: float = 30.0):
    """A body writer that sends `piece` every `every_s` seconds for `for_s` seconds (a server that drips)."""
    import time

    def write(out) -> None:
        end = time.monotonic() + for_s
        while time.monotonic() < end:
            out.write(piece)
            out.flush()
            time.sleep(every_s)

    return write
