"""Benchmark: the Gopher quality rule and MinHash dedup, lmspec vs DataTrove, on the same documents.

MinHash runs lmspec's real `dedup` step (two Beam pipelines, exact verification of candidates) against
DataTrove's four-stage MinHash pipeline on the documents plus 20% planted near-duplicates.

Documents are real English (prose sentences of the Python documentation that ships with CPython,
`pydoc_data.topics`) in runs of 1 to 30 sentences, some turned into bullet lists, hashtag or ellipsis
spam, or number soup, so that every Gopher heuristic has something to catch. Gopher is compared rule
against rule, in one process each: documents per second, and the share of documents on whose keep/drop
verdict the two agree.

    DATATROVE_PYTHON=/tmp/dtvenv/bin/python .venv/bin/python bench/gopher_minhash.py [--docs 20000]
DataTrove's venv: see filter_throughput.py, and `uv pip install -p /tmp/dtvenv/bin/python spacy`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def make_documents(n: int, seed: int = 0) -> list[str]:
    from pydoc_data.topics import topics

    # Prose sentences only (the documentation also holds code and grammar rules), kept in order.
    sentences = [
        s.strip()
        for s in " ".join(" ".join(topics.values()).split()).split(". ")
        if len(s.split()) >= 4 and sum(w.isalpha() for w in s.split()) >= 0.85 * len(s.split())
    ]
    rng = random.Random(seed)
    docs = []
    for _ in range(n):
        start = rng.randrange(len(sentences) - 40)
        text = ". ".join(sentences[start : start + rng.choice([1, 2, 3, 5, 8, 12, 20, 30])]) + "."
        style = rng.random()
        if style < 0.08:
            text = "\n".join(f"- {line}" for line in text.split(". "))
        elif style < 0.14:
            text = " ".join(f"#{w}" if rng.random() < 0.3 else w for w in text.split(" "))
        elif style < 0.20:
            text = "\n".join(f"{line}..." for line in text.split(". "))
        elif style < 0.26:
            text = " ".join(str(rng.randrange(10**6)) if rng.random() < 0.4 else w for w in text.split(" "))
        docs.append(text)
    return docs


def bench_gopher(docs: list[str], folder: Path, datatrove_python: str | None) -> None:
    from lmspec.runtime.data.rules import build
    from lmspec.schemas.data import Filter

    config = Filter.model_validate({"kind": "filter", "input": "@x", "rules": [{"kind": "gopher_quality"}]})
    check = build(config.rules[0])
    start = time.perf_counter()
    ours = [check(text)[0] for text in docs]
    seconds = time.perf_counter() - start
    print(f"gopher_quality, lmspec rule: {len(docs) / seconds:,.0f} docs/s, keeps {sum(ours)} of {len(docs)}")
    if not datatrove_python:
        print("DataTrove GopherQualityFilter: not measured (set DATATROVE_PYTHON)")
        return
    source, target = folder / "docs.jsonl", folder / "verdicts.json"
    source.write_text("".join(json.dumps({"text": t}) + "\n" for t in docs))
    subprocess.run(
        [datatrove_python, str(REPO / "bench" / "datatrove_gopher.py"), str(source), str(target)],
        check=True,
        capture_output=True,
    )
    theirs = json.loads(target.read_text())
    agree = sum(a == b for a, b in zip(ours, theirs["keep"], strict=True)) / len(docs)
    print(
        f"DataTrove GopherQualityFilter (spaCy words): {len(docs) / theirs['seconds']:,.0f} docs/s, keeps "
        f"{sum(theirs['keep'])}; lmspec / DataTrove = {theirs['seconds'] / seconds:.1f}x; "
        f"keep/drop agreement {agree:.2%}"
    )


DEDUP_SPEC = """
[experiment]
name = "minhash-bench"

[steps.docs]
kind = "ingest"
paths = ["docs-*.jsonl"]
format = "jsonl"

[steps.deduped]
kind = "dedup"
input = "@docs"
method = "minhash"
jaccard = 0.8
"""


def bench_minhash(docs: list[str], folder: Path, shards: int, datatrove_python: str | None) -> None:
    """The same corpus with planted near-duplicates (a few words changed) through both dedup pipelines."""
    rng = random.Random(1)
    corpus = list(docs)
    for text in rng.sample(docs, len(docs) // 5):
        words = text.split()
        for _ in range(max(1, len(words) // 50)):
            words[rng.randrange(len(words))] = "changed"
        corpus.append(" ".join(words))
    rng.shuffle(corpus)
    per_shard = -(-len(corpus) // shards)
    for s in range(shards):
        chunk = corpus[s * per_shard : (s + 1) * per_shard]
        (folder / f"docs-{s:02d}.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in chunk))
    (folder / "spec.toml").write_text(DEDUP_SPEC)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "lmspec.cli",
            "run",
            str(folder / "spec.toml"),
            "--root",
            str(folder / "runs"),
            "--quiet",
        ],
        check=True,
        capture_output=True,
    )
    [stats_file] = (folder / "runs").glob("deduped-*/stats.json")
    stats = json.loads(stats_file.read_text())
    step_s = json.loads((stats_file.parent / "lmspec-step.json").read_text())["end"]["metrics"]["seconds"]
    print(
        f"minhash dedup, lmspec step: {len(corpus)} documents in {step_s:.2f} s "
        f"({len(corpus) / step_s:,.0f} docs/s), kept {stats['documents_out']}"
    )
    if not datatrove_python:
        print("DataTrove MinHash: not measured (set DATATROVE_PYTHON)")
        return
    [docs_dir] = [p for p in (folder / "runs").glob("docs-*") if p.is_dir()]
    result = subprocess.run(
        [
            datatrove_python,
            str(REPO / "bench" / "datatrove_minhash.py"),
            str(docs_dir),
            str(folder / "datatrove"),
            str(shards),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    seconds = float(result.stdout.strip().splitlines()[-1])
    print(
        f"DataTrove MinHash (4 stages, tasks={shards}, workers=1): {seconds:.2f} s "
        f"({len(corpus) / seconds:,.0f} docs/s); lmspec / DataTrove = {seconds / step_s:.1f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--shards", type=int, default=4)
    args = parser.parse_args()
    docs = make_documents(args.docs)
    datatrove_python = os.environ.get("DATATROVE_PYTHON")
    with tempfile.TemporaryDirectory() as tmp:
        bench_gopher(docs, Path(tmp), datatrove_python)
        (Path(tmp) / "minhash").mkdir()
        bench_minhash(docs, Path(tmp) / "minhash", args.shards, datatrove_python)


if __name__ == "__main__":
    main()
