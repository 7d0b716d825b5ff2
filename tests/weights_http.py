"""A tiny HTTP file server on 127.0.0.1 for download tests (http.server in a thread).

It serves ``files`` (path -> bytes), honours ``Range: bytes=N-`` with ``206 Partial Content`` (unless told
to ignore ranges), can cut the connection halfway through a body (``cut_next`` counts how many responses
to cut), and records every request's path and Range header.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FileServer:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[dict[str, Any]] = []
        self.cut_next = 0          # cut this many upcoming responses after half the body
        self.ignore_range = False  # answer 200 with the full body even when a Range is asked
        self.fail_status: dict[str, list[int]] = {}  # path -> statuses to answer first (e.g. [503])
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                rng = self.headers.get("Range")
                server.requests.append({"path": self.path, "range": rng})
                queued = server.fail_status.get(self.path)
                if queued:
                    self.send_error(queued.pop(0))
                    return
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404, "not found")
                    return
                start = 0
                if rng and not server.ignore_range:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if server.cut_next > 0:
                    server.cut_next -= 1
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def reset(self) -> None:
        self.files.clear()
        self.requests.clear()
        self.cut_next = 0
        self.ignore_range = False
        self.fail_status.clear()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port_url(path: str = "/x.bin") -> str:
    """A URL on 127.0.0.1 whose port has no listener (connection refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}{path}"
