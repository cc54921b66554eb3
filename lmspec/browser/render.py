"""Jinja2 rendering with autoescape on every template, and the small formatting filters the pages share.

Autoescape is on for everything (`autoescape=True`, not by file suffix): every string that reaches a page
(document texts, attribute names and values, step and experiment names, descriptions, logs) is escaped
unless a template says otherwise, and none does. `StrictUndefined` turns a misspelt variable into an
error in the tests instead of an empty cell.
"""

from __future__ import annotations

import functools
import json
import math
import time
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from lmspec.browser.links import Links
from lmspec.browser.pages import Page

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
MAX_TEXT = 5_000
"""Characters of a document's text shown in a list; the rest is counted, not sent."""


def render(page: Page, links: Links) -> str:
    return environment().get_template(page.template).render(**page.context, title=page.title, link=links)


@functools.cache
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined)
    env.filters.update(
        when=_when,
        seconds=_seconds,
        money=_money,
        number=_number,
        shorten=_shorten,
        pretty=_pretty,
        size=_size,
        web_url=_web_url,
    )
    return env


def _web_url(value: Any) -> str | None:
    """`value` when it is an http(s) URL, else None: a `javascript:` issue link must not become a link."""
    text = str(value)
    return text if text.startswith(("https://", "http://")) else None


def _when(timestamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp)) if timestamp else "-"


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min" if value < 3600 else f"{value / 3600:.1f} h"


def _money(value: float | None) -> str:
    if value is None:
        return "-"
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def _number(value: Any) -> str:
    """Integers with thousands separators, floats with 4 significant digits, anything else as JSON."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _shorten(text: Any, limit: int = MAX_TEXT) -> str:
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit]} … ({len(text) - limit:,} more characters)"


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def _size(count: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:,} {unit}" if unit == "B" else f"{count:,.1f} {unit}"
        count /= 1024  # type: ignore[assignment]
    return str(count)
