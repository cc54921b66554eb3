"""Make the post-training example's data offline, from the quickstart's reference text (Python's reference manual).

    python examples/post_training_data.py [DIR]      (default: examples/data/post_training)

Writes, deterministically:
  manual.jsonl       the manual's paragraphs: what the tiny base models are pre-trained on
  chat.jsonl         "Title of this passage?" + the opening words of a paragraph -> the title of its section
  chat_test.jsonl    the same question on held-out paragraphs (every HELD_OUT-th of each section)
  prefs.jsonl        the same prompts, the true title chosen, another section's title rejected
  prefs_test.jsonl   held-out pairs
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path
from typing import Any

from examples.quickstart_data import english_paragraphs, write_jsonl

SEED = 1234
PASSAGE_WORDS = 12
"""Words of a paragraph in the question: short enough that question and answer fit the tiny models' 128 tokens."""
HELD_OUT = 5
"""Every fifth paragraph of each section is held out for evaluation."""
QUESTION = "Title of this passage? "


def sections() -> dict[str, list[str]]:
    """Section title -> its paragraphs' opening words, for every topic of the manual (`pydoc_data`)."""
    from pydoc_data.topics import topics

    found: dict[str, list[str]] = {}
    for name in sorted(topics):
        title = topics[name].strip().splitlines()[0]
        paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", topics[name])[2:]]
        passages = [" ".join(p.split()[:PASSAGE_WORDS]) for p in paragraphs if len(p.split()) >= PASSAGE_WORDS]
        if passages:
            found.setdefault(title.strip(), []).extend(passages)
    return found


def make(folder: Path) -> dict[str, int]:
    """Write the five files into `folder`; returns how many records each holds."""
    rng = random.Random(SEED)
    titles = sections()
    names = sorted(titles)
    splits: dict[str, list[tuple[str, str, str]]] = {"train": [], "test": []}
    for title, passages in titles.items():
        for index, passage in enumerate(passages):
            other = rng.choice([n for n in names if n != title])
            splits["test" if index % HELD_OUT == HELD_OUT - 1 else "train"].append((passage, title, other))
    write_jsonl(folder / "manual.jsonl", english_paragraphs())
    counts = {"manual": len(english_paragraphs())}
    for split, suffix in (("train", ""), ("test", "_test")):
        rows = splits[split]
        counts[f"chat{suffix}"] = _write(folder / f"chat{suffix}.jsonl", [_chat(p, t) for p, t, _ in rows])
        counts[f"prefs{suffix}"] = _write(folder / f"prefs{suffix}.jsonl", [_pair(p, t, o) for p, t, o in rows])
    return counts


def _chat(passage: str, title: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": QUESTION + passage}, {"role": "assistant", "content": title}]}


def _pair(passage: str, title: str, other: str) -> dict[str, Any]:
    return {"prompt": QUESTION + passage, "chosen": title, "rejected": other}


def _write(path: Path, records: list[dict[str, Any]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return len(records)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "data" / "post_training"
    made = make(target)
    print(f"post-training data in {target}: " + ", ".join(f"{v} {k}" for k, v in made.items()))
