"""Real English text that ships with Python itself (the reference manual in `pydoc_data`), offline."""

from __future__ import annotations

import json
import re
from pathlib import Path


def english_paragraphs(min_words: int = 20) -> list[str]:
    """About 1,200 paragraphs (~390 KB) of the Python reference manual, in a stable order."""
    from pydoc_data.topics import topics

    paragraphs = (p.strip() for name in sorted(topics) for p in re.split(r"\n\s*\n", topics[name]))
    return [" ".join(p.split()) for p in paragraphs if len(p.split()) >= min_words]


def write_jsonl(path: Path, texts: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    return path
