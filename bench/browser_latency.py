"""Benchmark: page latency of `lmspec browse` on a large output and a large catalog.

Targets (issue 16): a 1,000,000-document output opens its first page and any later page in under 1 s; a
catalog with 10,000 artifacts lists in under 1 s. Measured end to end over HTTP against the real server
(`lmspec browse` as a subprocess): request sent to response read, median and worst of several requests.

The root is generated: one documents output of `--docs` documents (~1.2 KB of text each, in 8 gzip shards,
written with lmspec's own shard writer) and a catalog of `--artifacts` artifacts in 100 experiments
(inserted in bulk into the catalog's tables: the same rows `lmspec run` writes, without running 10,000
steps), each with its output folder and success marker, whose statuses the experiment list reads.

A later page needs the output's index (built once, on first need, under `<root>/.browse-index`): its build
time is reported on its own, and later pages are timed both in the server that built it and in a freshly
started server that finds it on disk.

    .venv/bin/python bench/browser_latency.py [--docs 1000000] [--artifacts 10000] [--root DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SHARDS = 8


def make_output(folder: Path, documents: int, seed: int = 0) -> None:
    """A documents output of `documents` ~1 KB documents in `SHARDS` gzip shards, and its stats.json."""
    from pydoc_data.topics import topics  # real English words, shipped with CPython

    from lmspec.outputs.documents import Document, DocumentStats, ShardWriter, shard_paths

    rng = random.Random(seed)
    words = sorted({word for word in " ".join(topics.values()).split() if word.isalpha()})
    folder.mkdir(parents=True)
    paragraph = [" ".join(rng.choice(words) for _ in range(150)) for _ in range(64)]
    per_shard = -(-documents // SHARDS)
    for shard, path in enumerate(shard_paths(folder, SHARDS, "gzip")):
        writer = ShardWriter(path)
        for i in range(shard * per_shard, min(documents, (shard + 1) * per_shard)):
            text = f"document {i}. " + paragraph[i % len(paragraph)]
            attributes = {"score": (i * 7919 % 1000) / 1000, "length": len(text)}
            writer.write(Document(id=f"doc-{i}", text=text, source="bench", metadata={}, attributes=attributes))
        writer.close()
    DocumentStats(documents_in=documents, documents_out=documents, shards=SHARDS).write(folder)


def make_catalog(root: Path, artifacts: int, big_output: Path, documents: int) -> str:
    """`artifacts` artifacts in 100 experiments (one run each), plus the big output's; returns its hash."""
    from lmspec.catalog import Catalog, tables
    from lmspec.outputs.lifecycle import SUCCESS_MARKER

    catalog = Catalog(f"sqlite:///{root / 'catalog.sqlite'}").open(create=True)
    now = time.time()
    runs = [
        {
            "id": f"run-{e}",
            "experiment": f"exp-{e:03d}",
            "spec_path": f"specs/exp-{e:03d}.toml",
            "spec_text": f'[experiment]\nname = "exp-{e:03d}"\n',
            "plan_hash": f"{e:012x}",
            "root": str(root),
            "git_commit": None,
            "user": "bench",
            "host": "bench",
            "started_at": now + e,
            "finished_at": now + e + 60,
            "status": "succeeded",
            "versions": "{}",
        }
        for e in range(100)
    ]
    rows = [_artifact(root, i, now) for i in range(artifacts)]
    big_hash = "b1900000000d"
    rows.append(
        {
            **_artifact(root, artifacts, now),
            "output_path": str(big_output),
            "hash": big_hash,
            "step_name": "big",
            "counts": json.dumps({"documents_out": documents}),
        }
    )
    with catalog.engine.begin() as conn:
        conn.execute(tables.runs.insert(), runs)
        conn.execute(tables.artifacts.insert(), rows)
    for row in rows[:-1]:  # each artifact's output on disk, complete, as a run leaves it
        output = Path(str(row["output_path"]))
        output.mkdir()
        (output / SUCCESS_MARKER).write_text("{}")
    return big_hash


def _artifact(root: Path, i: int, now: float) -> dict[str, object]:
    return {
        "output_path": str(root / f"step_{i % 50}-{i:012x}"),
        "hash": f"{i:012x}",
        "step_name": f"step_{i % 50}",
        "kind": "ingest",
        "experiment": f"exp-{i % 100:03d}",
        "run_id": f"run-{i % 100}",
        "config": json.dumps({"kind": "ingest", "paths": [f"data/{i}.jsonl"]}),
        "fingerprint": "{}",
        "status": "succeeded",
        "started_at": now + i,
        "finished_at": now + i + 1,
        "duration_s": float(i % 97),
        "counts": "{}",
        "metrics": "{}",
        "log_path": None,
        "error": None,
    }


class Browse:
    """`lmspec browse --root ROOT --port 0` while the block runs."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __enter__(self) -> Browse:
        command = [sys.executable, "-m", "lmspec.cli", "browse", "--root", str(self.root), "--port", "0"]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPO)
        assert self.process.stdout is not None
        self.base = self.process.stdout.readline().split()[2].rstrip("/")
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.communicate(timeout=30)

    def get(self, path: str) -> float:
        """Seconds from sending the request to reading the whole response (which must be a 200)."""
        started = time.perf_counter()
        with urllib.request.urlopen(self.base + path, timeout=600) as response:
            response.read()
            assert response.status == 200, (path, response.status)
        return time.perf_counter() - started


def timed(server: Browse, paths: list[str]) -> str:
    seconds = [server.get(path) for path in paths]
    return f"median {statistics.median(seconds) * 1000:.0f} ms, worst {max(seconds) * 1000:.0f} ms (n={len(seconds)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--artifacts", type=int, default=10_000)
    parser.add_argument("--root", type=Path, help="keep the generated root here (default: a temporary folder)")
    args = parser.parse_args()
    root = args.root or Path(tempfile.mkdtemp(prefix="lmspec-browse-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    big = root / "big-b1900000000d"
    started = time.perf_counter()
    if not big.exists():
        make_output(big, args.docs)
    print(
        f"output: {args.docs:,} documents, {sum(p.stat().st_size for p in big.iterdir()) / 2**20:,.0f} MiB "
        f"of shards, made in {time.perf_counter() - started:.1f} s"
    )
    digest = "b1900000000d"
    if not (root / "catalog.sqlite").exists():
        digest = make_catalog(root, args.artifacts, big, args.docs)
    rng = random.Random(1)
    last_page = -(-args.artifacts // 50)
    later = [f"/step/{digest}/data/?start={rng.randrange(2_000, args.docs - 50)}" for _ in range(20)]
    with Browse(root) as server:
        print(f"first request of a new server (imports, templates): {server.get('/artifacts/') * 1000:.0f} ms")
        print("artifact list, page 1:", timed(server, ["/artifacts/"] * 10))
        print(
            "artifact list, pages 2..last:",
            timed(server, [f"/artifacts/?page={rng.randrange(2, last_page + 1)}" for _ in range(10)]),
        )
        print("artifact list, search + sort:", timed(server, ["/artifacts/?q=step_7&sort=duration&order=asc"] * 10))
        print("experiment list:", timed(server, ["/"] * 10))
        print("data, first page, no index yet:", timed(server, [f"/step/{digest}/data/"]))
        build = server.get(later[0])
        print(f"data, first later page, building the index: {build:.1f} s")
        print("data, later pages:", timed(server, later[1:]))
        print("data, last page:", timed(server, [f"/step/{digest}/data/?start={args.docs - 50}"] * 5))
    with Browse(root) as server:
        server.get("/artifacts/")
        print("new server, data, first page:", timed(server, [f"/step/{digest}/data/"] * 5))
        print("new server, data, later pages:", timed(server, later))
    index = root / ".browse-index" / big.name / "documents"
    print(f"index: {sum(p.stat().st_size for p in index.iterdir()) / 2**20:,.0f} MiB at {index}")


if __name__ == "__main__":
    main()
