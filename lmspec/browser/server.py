"""`lmspec browse`: serve the app with uvicorn on 127.0.0.1 unless told otherwise.

The socket is bound here, before uvicorn starts, so a port in use is one clear error instead of uvicorn's
log line and exit; uvicorn then serves on that socket.
"""

from __future__ import annotations

import socket

from lmspec.browser.context import BrowseError, Browser

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise BrowseError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another with --port") from None
    sock.listen(128)
    return sock


def serve(browser: Browser, sock: socket.socket) -> None:
    """Serve until interrupted."""
    import uvicorn

    from lmspec.browser.app import create_app

    config = uvicorn.Config(create_app(browser), log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def address(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
