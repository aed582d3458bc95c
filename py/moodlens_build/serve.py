"""Serving dist/ on 127.0.0.1 with the production headers (and the types browsers require)."""

from __future__ import annotations

import functools
import http.server
import os
import socketserver
import sys
import threading
from pathlib import Path

from .paths import DIST
from .steps import BuildError
from .site import build, site_headers


MIME_TYPES = {
    ".wasm": "application/wasm",
    ".tflite": "application/octet-stream",
    ".hdf5": "application/octet-stream",
    ".mjs": "text/javascript",
    ".js": "text/javascript",
    ".json": "application/json",
    ".py": "text/x-python",
    ".whl": "application/zip",
    ".zip": "application/zip",
    ".css": "text/css",
    ".txt": "text/plain; charset=utf-8",
}


# -- serving --------------------------------------------------------------------------
class Handler(http.server.SimpleHTTPRequestHandler):
    """Static files with the right types and the production headers (site/headers.toml).

    Every response is revalidated (``no-cache``): a reload after a rebuild never mixes old
    and new files, and a warm start still skips the download (304 Not Modified)."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}
    site_headers: dict[str, str] = {}

    def end_headers(self):
        for name, value in {"Cache-Control": "no-cache", **self.site_headers}.items():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        if os.environ.get("MOODLENS_SERVER_LOG"):
            super().log_message(format, *args)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A browser that closes a connection mid-download (page closed, reload) is not an error.
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


def make_server(directory: Path = DIST, host: str = "127.0.0.1", port: int = 8000, headers: bool = True) -> Server:
    """A static server for ``directory``; ``headers=False`` leaves out the production headers
    (for the benchmark's peer page, which is not ours to constrain)."""
    handler = type("SiteHandler", (Handler,), {"site_headers": site_headers() if headers else {}})
    return Server((host, port), functools.partial(handler, directory=str(directory)))


def serve_in_thread(directory: Path = DIST, port: int = 0, headers: bool = True) -> tuple[Server, str]:
    """For tests: serve ``directory`` on a free port; returns the server and its base URL."""
    server = make_server(directory, port=port, headers=headers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def serve(port: int) -> None:
    build()
    try:
        server = make_server(port=port)
    except OSError as exc:
        raise BuildError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror}); try --port") from None
    print(f"Serving Moodlens at http://127.0.0.1:{server.server_address[1]}/  (Ctrl+C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
