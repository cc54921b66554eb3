"""The Starlette app behind `lmspec browse`: GET routes onto the page functions, files of outputs, static
assets, and headers that keep the pages inert.

Read-only by construction: there is no route that takes a body, and every route reads. Every response
carries a Content-Security-Policy that runs scripts from this server only (no inline script, so an
escaped-away payload that slipped through would still not run), plus `nosniff`, so a file of an output
(which may hold any bytes) is never taken for a page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from lmspec.browser import datapages, pages
from lmspec.browser.context import Browser, NotFound
from lmspec.browser.links import Links
from lmspec.browser.render import STATIC, render
from lmspec.errors import LmspecError

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
DIGEST = re.compile(r"[0-9a-f]{4,64}")
TEXT_TYPES = (".json", ".jsonl", ".log", ".txt", ".md", ".toml", ".yaml", ".yml", ".csv")
"""Output files shown as plain text in the browser; others download."""


def create_app(browser: Browser) -> Starlette:
    """The browser's web app over `browser`'s root and catalog."""
    routes = [
        _page("/", lambda request: pages.experiments_page(browser, request.query_params)),
        _page("/artifacts/", lambda request: pages.artifacts_page(browser, request.query_params)),
        _page("/experiment/{name}/", lambda r: pages.experiment_page(browser, r.path_params["name"], r.query_params)),
        _page("/step/{digest}/", lambda request: pages.step_page(browser, _digest(request))),
        _page("/step/{digest}/data/", lambda r: datapages.data_page(browser, _digest(r), r.query_params)),
        _page("/step/{digest}/kept/", lambda r: datapages.filter_page(browser, _digest(r), r.query_params)),
        _page("/step/{digest}/clusters/", lambda r: datapages.dedup_page(browser, _digest(r), r.query_params)),
        _page("/step/{digest}/tokens/", lambda r: datapages.tokens_page(browser, _digest(r), r.query_params)),
        _page("/step/{digest}/training/", lambda request: pages.training_page(browser, _digest(request))),
        _page("/compare/", lambda request: pages.compare_page(browser)),
        _page("/compare/steps/", lambda request: pages.compare_steps_page(browser, request.query_params)),
        _page("/compare/experiments/", lambda r: pages.compare_experiments_page(browser, r.query_params)),
        Route("/step/{digest}/files/{path:path}", lambda request: _file(browser, request)),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error, LmspecError: _error})
    app.add_middleware(BaseHTTPMiddleware, dispatch=_headers)
    return app


def _page(path: str, make: Callable[[Request], pages.Page]) -> Route:
    def endpoint(request: Request) -> Response:
        return HTMLResponse(render(make(request), Links()))

    return Route(path, endpoint, methods=["GET", "HEAD"])


def _digest(request: Request) -> str:
    digest = str(request.path_params["digest"])
    if not DIGEST.fullmatch(digest):
        raise NotFound(f"`{digest}` is not a step hash")
    return digest


def _file(browser: Browser, request: Request) -> Response:
    path = pages.file_path(browser, _digest(request), str(request.path_params["path"]))
    if path.name.endswith(TEXT_TYPES):
        return FileResponse(path, media_type="text/plain; charset=utf-8")
    return FileResponse(path, media_type="application/octet-stream", filename=path.name)


async def _headers(request: Request, call_next: RequestResponseEndpoint) -> Response:
    response = await call_next(request)
    response.headers.update(SECURITY_HEADERS)
    return response


async def _http_error(request: Request, exc: Any) -> Response:
    return _error_page(exc.status_code, str(exc.detail))


async def _error(request: Request, exc: Exception) -> Response:
    return _error_page(404 if isinstance(exc, NotFound) else 500, str(exc))


def _error_page(status: int, message: str) -> Response:
    page = pages.Page("error.html", f"{status}", {"status": status, "message": message})
    return HTMLResponse(render(page, Links()), status_code=status)
