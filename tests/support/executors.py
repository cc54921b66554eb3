"""Cheap, real executors for runtime tests, registered through $LMSPEC_PLUGINS; never shipped.

They read and write real files so outputs can be compared byte for byte. Environment knobs:
  LMSPEC_TEST_LEDGER=FILE        append "<step> <pid>" for every execution (to count executions)
  LMSPEC_TEST_FAIL=a,b           these steps raise
  LMSPEC_TEST_SLEEP=a:2,b:0.5    these steps write half their output, then sleep (to be killed mid-step)
  LMSPEC_TEST_NOISE=a,b          these steps chatter on stderr as engines do (print, native fd 2, own handler)
  LMSPEC_TEST_KILL_AT=a:writing  kill -9 the run half-way through writing step a's output; the runtime's own
                                 kill points (started, executed, renamed, completed) take the same variable
                                 (`lmspec.outputs.lifecycle.kill_point`)
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lmspec.outputs.lifecycle import kill_point
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.registry import executes
from lmspec.schemas import step_kinds
from lmspec.schemas.data import Dedup, Filter, Ingest

for _kind in filter(None, os.environ.get("LMSPEC_TEST_UNINSTALLED", "").split(",")):
    sys.modules[step_kinds()[_kind].executor] = None  # type: ignore[assignment]  # as Python marks a missing module


def _knob(name: str) -> dict[str, str]:
    items = [part.split(":", 1) for part in os.environ.get(name, "").split(",") if part]
    return {item[0]: item[1] if len(item) > 1 else "" for item in items}


def _bookkeeping(ctx: StepContext[Any]) -> None:
    ledger = os.environ.get("LMSPEC_TEST_LEDGER")
    if ledger:
        with open(ledger, "a") as f:
            f.write(f"{ctx.step.name} {os.getpid()}\n")
    if ctx.step.name in _knob("LMSPEC_TEST_NOISE"):
        _chatter(ctx.step.name)
    if ctx.step.name in _knob("LMSPEC_TEST_FAIL"):
        ctx.log.info("about to fail on purpose")
        raise RuntimeError(f"step {ctx.step.name} was told to fail (LMSPEC_TEST_FAIL)")


def _chatter(name: str) -> None:
    """Console noise the way engines make it: a print to stderr (tqdm, warnings), a write to file
    descriptor 2 (XLA's C++ logging), a logger with its own stream handler (absl), a child process."""
    print(f"noise {name}: python stderr", file=sys.stderr)
    os.write(2, f"noise {name}: native fd 2\n".encode())
    engine = logging.getLogger(f"engine.{name}")
    engine.addHandler(logging.StreamHandler(sys.stderr))
    engine.propagate = False
    engine.warning("noise %s: own handler", name)
    subprocess.run(
        [sys.executable, "-c", f"import sys; sys.stderr.write('noise {name}: child process\\n')"], check=True
    )


def _write_docs(ctx: StepContext[Any], docs: list[dict[str, str]]) -> StepResult:
    out = ctx.output_dir / "docs.jsonl"
    half = len(docs) // 2
    with out.open("w") as f:
        for doc in docs[:half]:
            f.write(json.dumps(doc) + "\n")
        f.flush()
        kill_point(Path(ctx.step.output_path), "writing")
        pause = _knob("LMSPEC_TEST_SLEEP").get(ctx.step.name)
        if pause:
            ctx.log.info("sleeping %s s half-way", pause)
            time.sleep(float(pause))
        for doc in docs[half:]:
            f.write(json.dumps(doc) + "\n")
    return StepResult(counts={"documents_out": len(docs)})


def _read_docs(path: Path) -> list[dict[str, str]]:
    with (path / "docs.jsonl").open() as f:
        return [json.loads(line) for line in f]


@executes(Ingest)
def ingest(ctx: StepContext[Ingest]) -> StepResult:
    _bookkeeping(ctx)
    docs = []
    for pattern in ctx.spec.paths:
        for path in sorted(ctx.spec_dir.glob(pattern)):
            docs.extend({"id": f"{path.name}:{i}", "text": line.strip()} for i, line in enumerate(path.open()))
    return _write_docs(ctx, docs)


@executes(Filter)
def keep_long(ctx: StepContext[Filter]) -> StepResult:
    """Keeps documents with at least three words: a stand-in filter with a real effect, and a series (documents
    kept after each one read) as a training step's loss curve would be."""
    _bookkeeping(ctx)
    [source] = ctx.inputs.values()
    read = _read_docs(source)
    keep = [len(d["text"].split()) >= 3 for d in read]
    result = _write_docs(ctx, [d for d, k in zip(read, keep, strict=True) if k])
    result.metrics["kept_fraction"] = sum(keep) / max(1, len(read))
    result.series["kept"] = [(i, float(n)) for i, n in enumerate(itertools.accumulate(keep))]
    return result


@executes(Dedup)
def exact_dedup(ctx: StepContext[Dedup]) -> StepResult:
    _bookkeeping(ctx)
    seen: set[str] = set()
    docs = []
    for source in ctx.inputs.values():
        for doc in _read_docs(source):
            if doc["text"] not in seen:
                seen.add(doc["text"])
                docs.append(doc)
    return _write_docs(ctx, docs)
