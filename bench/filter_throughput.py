"""Benchmark: the language + fastText quality-classifier filter, lmspec vs a hand-written loop (vs DataTrove).

All contenders read the same generated ~1 KB documents (gzipped JSONL shards), run the same two fastText
models (lid.176 and a quality classifier trained by lmspec), and write gzipped JSONL at the same level.
lmspec runs its real `filter` step (a Beam pipeline on FnApiRunner, one process); the loop is the plain
Python a researcher would write, one process. DataTrove runs in a venv of its own (it pins another
fastText build), one task per shard and one worker:

    uv venv /tmp/dtvenv -p .venv/bin/python && uv pip install -p /tmp/dtvenv/bin/python "datatrove[processing]"
    DATATROVE_PYTHON=/tmp/dtvenv/bin/python .venv/bin/python bench/filter_throughput.py [--docs 100000] [--shards 8]
"""

from __future__ import annotations

import argparse
import gzip
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


def _words(text: str) -> list[str]:
    return text.split()


PROSE = _words(
    "the committee met on tuesday to review the proposal and after a long discussion that covered the budget "
    "the schedule and the risks they agreed with the plan to have the work start in the spring several members "
    "asked that the report be shared with the public as soon as possible so that residents of the town could "
    "see what had been decided and why"
)
SPAM = _words("buy cheap pills now click here free offer winner casino bonus deal limited time only act fast")


def make_corpus(folder: Path, docs: int, shards: int) -> None:
    rng = random.Random(0)
    per_shard = docs // shards
    for s in range(shards):
        with gzip.open(folder / f"web-{s:02d}.jsonl.gz", "wt", compresslevel=1) as f:
            for i in range(per_shard):
                words = SPAM if (s * per_shard + i) % 3 == 0 else PROSE
                text = " ".join(rng.choice(words) for _ in range(170))  # about 1 KB
                f.write(json.dumps({"text": text.capitalize() + "."}) + "\n")
    with (folder / "reference.jsonl").open("w") as f:
        for _ in range(2000):
            f.write(json.dumps({"text": " ".join(rng.choice(PROSE) for _ in range(170))}) + "\n")


SPEC = """
[experiment]
name = "filter-bench"

[steps.web]
kind = "ingest"
paths = ["web-*.jsonl.gz"]
format = "jsonl"

[steps.reference]
kind = "ingest"
paths = ["reference.jsonl"]
format = "jsonl"

[steps.quality]
kind = "train_classifier"
positive = ["@reference"]
negative = ["@web"]
max_examples_per_class = 2000

[steps.filtered]
kind = "filter"
input = "@web"
rules = [
  { kind = "language", keep = ["en"], min_score = 0.5 },
  { kind = "classifier", model = "@quality", min_score = 0.5 },
]
"""


def plain_loop(inputs: list[Path], out: Path, model_path: str) -> int:
    """What a researcher would write by hand: same models, same codecs, one process."""
    from lmspec.runtime.data.fasttext_models import fasttext_line, lid176_path, load

    lid, quality = load(lid176_path()), load(model_path)
    kept = 0
    for shard in inputs:
        with gzip.open(shard, "rt", encoding="utf-8") as src, gzip.open(out / shard.name, "wt", compresslevel=1) as dst:
            for line in src:
                doc = json.loads(line)
                text = fasttext_line(doc["text"])
                labels, scores = lid.predict(text, k=1)
                if labels[0] != "__label__en" or scores[0] < 0.5:
                    continue
                labels, scores = quality.predict(text, k=-1)
                if dict(zip(labels, scores, strict=True)).get("__label__hq", 0.0) < 0.5:
                    continue
                dst.write(json.dumps(doc, ensure_ascii=False) + "\n")
                kept += 1
    return kept


def datatrove(inputs: list[Path], out: Path, model_path: str) -> float | None:
    """DataTrove's equivalent pipeline in its own venv ($DATATROVE_PYTHON), or None when there is none."""
    python = os.environ.get("DATATROVE_PYTHON")
    if not python:
        return None
    from lmspec.runtime.data.fasttext_models import lid176_path

    result = subprocess.run(
        [
            python,
            str(REPO / "bench" / "datatrove_filter.py"),
            str(inputs[0].parent),
            str(out),
            model_path,
            lid176_path(),
            str(len(inputs)),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


def run_lmspec(folder: Path) -> float:
    """Run the spec in `folder`; returns the run's peak resident memory in MB (GNU time's %M)."""
    command = [
        "/usr/bin/time",
        "-f",
        "%M",
        sys.executable,
        "-m",
        "lmspec.cli",
        "run",
        str(folder / "spec.toml"),
        "--root",
        str(folder / "runs"),
        "--quiet",
    ]
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    return int(result.stderr.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--shards", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        small = folder / "small"
        small.mkdir()
        make_corpus(small, args.docs // 10, args.shards)
        (small / "spec.toml").write_text(SPEC)
        small_rss = run_lmspec(small)
        make_corpus(folder, args.docs, args.shards)
        (folder / "spec.toml").write_text(SPEC)
        full_rss = run_lmspec(folder)
        print(
            f"peak RSS of `lmspec run` (ingest, classifier, filter): {small_rss:.0f} MB at {args.docs // 10} "
            f"documents, {full_rss:.0f} MB at {args.docs}"
        )
        [filtered] = (folder / "runs").glob("filtered-*/stats.json")
        stats = json.loads(filtered.read_text())
        step_s = json.loads((filtered.parent / "lmspec-step.json").read_text())["end"]["metrics"]["seconds"]
        [web] = [p for p in (folder / "runs").glob("web-*") if p.is_dir()]
        [model] = (folder / "runs").glob("quality-*/model.bin")
        inputs = sorted(web.glob("part-*.jsonl.gz"))
        n = stats["documents_in"]
        print(f"{n} documents, {args.shards} shards, {stats['documents_out']} kept by lmspec")
        print(f"lmspec filter step (Beam FnApiRunner, 1 process): {step_s:.2f} s, {n / step_s:,.0f} docs/s")

        loop_out = folder / "loop"
        loop_out.mkdir()
        start = time.perf_counter()
        kept = plain_loop(inputs, loop_out, str(model))
        loop_s = time.perf_counter() - start
        print(
            f"plain Python loop (1 process): {loop_s:.2f} s, {n / loop_s:,.0f} docs/s, kept {kept}; "
            f"lmspec / loop = {loop_s / step_s:.2f}"
        )

        dt = datatrove(inputs, folder / "datatrove", str(model))
        if dt is None:
            print("DataTrove: not measured (set DATATROVE_PYTHON to a venv with datatrove[processing])")
        else:
            print(
                f"DataTrove (tasks={args.shards}, workers=1): {dt:.2f} s, {n / dt:,.0f} docs/s; "
                f"lmspec / DataTrove = {dt / step_s:.2f}"
            )
        print(f"peak RSS of this process: {_peak_rss_mb():.0f} MB")


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    os.environ.setdefault("PYTHONPATH", str(REPO))
    main()
