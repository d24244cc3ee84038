"""A local HTTP server that speaks Akismet's comment-check - and fails on request.

Not a mock of our code: a real server on a loopback port, answering the
protocol as Akismet does (``true``/``false``, the discard pro tip,
``invalid`` with a debug header) or failing the ways a remote service fails:
slowly, with a 500, with garbage, trickling its answer byte by byte, or
accepting the connection and never answering at all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

MODES = ("spam", "ham", "discard", "slow", "error500", "invalid", "garbage", "blackhole", "drip")


class AkismetDouble:
    def __init__(self) -> None:
        self.mode = "ham"
        self.delay = 1.0  # for "slow" and "drip"
        self.requests: list[dict[str, list[str]]] = []
        self.released = threading.Event()  # ends every blackholed request
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode("utf-8"))
                double.requests.append(form)
                double.answer(self, form)

        return Handler

    def answer(self, handler: BaseHTTPRequestHandler, form: dict[str, list[str]]) -> None:
        mode = self.mode
        if mode == "blackhole":
            self.released.wait(timeout=30)
            return
        if mode == "slow":
            time.sleep(self.delay)
            mode = "ham"
        status, body, headers = 200, "false", {}
        if mode == "spam":
            body = "true"
        elif mode == "discard":
            body, headers = "true", {"X-akismet-pro-tip": "discard"}
        elif mode == "error500":
            status, body = 500, "Internal Server Error"
        elif mode == "invalid":
            body, headers = "invalid", {"X-akismet-debug-help": "Invalid key"}
        elif mode == "garbage":
            body = "<html><body>Bad Gateway</body></html>"
        handler.send_response(status)
        handler.send_header("Content-Type", "text/plain; charset=utf-8")
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if mode == "drip":  # each byte well within a socket timeout, the whole not
            for byte in body.encode():
                time.sleep(self.delay / len(body))
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
            return
        handler.wfile.write(body.encode())

    @contextmanager
    def running(self) -> Iterator[AkismetDouble]:
        thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        try:
            yield self
        finally:
            self.released.set()
            self.server.shutdown()
            self.server.server_close()
            thread.join(timeout=5)
