"""Make the quickstart's corpus offline: real English from what Python ships, plus generated junk.

    python examples/quickstart_data.py [DIR]      (default: examples/data/quickstart)

Writes, deterministically:
  crawl.warc.gz     HTML pages as a crawl ships them: paragraphs of the Python reference manual
                    (`pydoc_data`, in every CPython install), keyword spam, word salad, boilerplate,
                    repeated lines, French and German pages, and near-copies of good pages
  reference.jsonl   manual paragraphs that are not in the crawl: the quality classifier's positives
  spam.jsonl        more generated junk: its negatives
"""

from __future__ import annotations

import gzip
import html
import json
import random
import re
import sys
import uuid
from pathlib import Path

SEED = 1234
REFERENCE_SHARE = 0.15
"""Manual paragraphs kept out of the crawl, as known-good examples for the classifier."""

SPAM_WORDS = [
    "cheap",
    "best",
    "free",
    "online",
    "buy",
    "now",
    "casino",
    "bonus",
    "pills",
    "discount",
    "deal",
    "offer",
    "win",
    "click",
    "viagra",
    "loans",
]
SALAD_WORDS = [
    "the",
    "of",
    "and",
    "blue",
    "quickly",
    "window",
    "seven",
    "under",
    "purple",
    "run",
    "table",
    "because",
    "eleven",
    "soft",
    "river",
]
FRENCH = (
    "Le chat dort sur le canapé pendant que la pluie tombe doucement sur la ville. Nous avons mangé une "
    "soupe chaude avec du pain frais, puis nous sommes allés nous promener le long de la rivière."
)
GERMAN = (
    "Der Hund schläft unter dem Tisch, während draußen der Regen fällt. Wir haben heute Morgen frisches "
    "Brot gekauft und sind danach mit den Kindern in den Park gegangen, um Enten zu füttern."
)


def english_paragraphs(min_words: int = 20) -> list[str]:
    """About 1,200 paragraphs (~390 KB) of the Python reference manual, in a stable order."""
    from pydoc_data.topics import topics

    paragraphs = (p.strip() for name in sorted(topics) for p in re.split(r"\n\s*\n", topics[name]))
    return [" ".join(p.split()) for p in paragraphs if len(p.split()) >= min_words]


def junk_pages(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """(kind, text) of low-quality pages, cycling through the kinds the filters are meant to catch."""

    def words(vocabulary: list[str], low: int, high: int) -> str:
        return " ".join(rng.choice(vocabulary) for _ in range(rng.randint(low, high)))

    makers = {
        "spam": lambda: words(SPAM_WORDS, 60, 200).upper() + " !!!",
        "salad": lambda: words(SALAD_WORDS, 80, 200),
        "boilerplate": lambda: "\n".join(
            ["Home | About | Contact | Login", "All rights reserved."] * rng.randint(8, 20)
        ),
        "repeated": lambda: "\n".join(
            [f"Subscribe to our newsletter, offer {rng.randint(1, 9)}"] * rng.randint(20, 40)
        ),
        "french": lambda: " ".join([FRENCH] * rng.randint(2, 5)),
        "german": lambda: " ".join([GERMAN] * rng.randint(2, 5)),
    }
    kinds = sorted(makers)
    return [(kind, makers[kind]()) for kind in (kinds[i % len(kinds)] for i in range(count))]


def page(title: str, text: str) -> bytes:
    """A plausible HTML page: navigation, the text as paragraphs, a footer."""
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n") if p.strip())
    return (
        f"<!doctype html><html><head><title>{html.escape(title)}</title></head><body>"
        f"<nav><a href='/'>Home</a> <a href='/docs'>Docs</a></nav><main><h1>{html.escape(title)}</h1>"
        f"{paragraphs}</main><footer>Example site</footer></body></html>"
    ).encode()


def response_record(url: str, body: bytes, content_type: str = "text/html; charset=utf-8") -> bytes:
    """One WARC/1.0 HTTP response record."""
    http = b"HTTP/1.1 200 OK\r\nContent-Type: " + content_type.encode() + b"\r\n\r\n" + body
    headers = (
        "WARC/1.0\r\n"
        "WARC-Type: response\r\n"
        f"WARC-Target-URI: {url}\r\n"
        "WARC-Date: 2024-01-01T00:00:00Z\r\n"
        f"WARC-Record-ID: <urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, url)}>\r\n"
        "Content-Type: application/http; msgtype=response\r\n"
        f"Content-Length: {len(http)}\r\n\r\n"
    ).encode()
    return headers + http + b"\r\n\r\n"


def write_warc(path: Path, records: list[bytes]) -> None:
    """Each record its own gzip member, as crawls ship them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        for record in records:
            f.write(gzip.compress(record, mtime=0))


def write_jsonl(path: Path, texts: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    return path


def make(folder: Path, paragraphs: int | None = None) -> dict[str, int]:
    """Write the corpus into `folder` (`paragraphs` caps the manual paragraphs used, for quick tests)."""
    rng = random.Random(SEED)
    good = english_paragraphs()[:paragraphs]
    rng.shuffle(good)
    n_reference = int(len(good) * REFERENCE_SHARE)
    reference, crawl = good[:n_reference], good[n_reference:]
    near_copies = [text.replace(".", " .", 1) for text in rng.sample(crawl, len(crawl) // 20)]
    junk = junk_pages(rng, len(crawl) // 4)
    pages = [(f"https://docs.example.org/manual/{i}", "Python manual", t) for i, t in enumerate(crawl)]
    pages += [(f"https://mirror.example.net/copy/{i}", "Python manual (mirror)", t) for i, t in enumerate(near_copies)]
    pages += [(f"https://junk.example.com/{kind}/{i}", f"{kind} page", t) for i, (kind, t) in enumerate(junk)]
    rng.shuffle(pages)
    write_warc(folder / "crawl.warc.gz", [response_record(url, page(title, text)) for url, title, text in pages])
    write_jsonl(folder / "reference.jsonl", reference)
    write_jsonl(folder / "spam.jsonl", [text for _, text in junk_pages(rng, n_reference)])
    return {"pages": len(pages), "good": len(crawl), "near_copies": len(near_copies), "junk": len(junk)}


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "data" / "quickstart"
    counts = make(target)
    print(f"quickstart corpus in {target}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
