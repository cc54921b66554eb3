"""Benchmark: an all-cached re-run of a 1,000-step plan as a whole process, side by side with DVC.

Target (issue 17): `lmspec run` of a 1,000-step plan whose every step is complete in under 2 s, interpreter
start-up and imports included. The steps are the test suite's trivial real executors (`tests/support/
executors.py`, through `$LMSPEC_PLUGINS`): one ingest, then dedup steps in chains of ten (`run_overhead.py`'s
spec), run once for real so that every output, record and catalog row exists. The DVC twin is a
1,000-stage `dvc.yaml` of the same shape (each stage copies its input file), reproduced once, then timed
with `dvc repro` (all stages up to date) and with `dvc status` after one stage's command changed (what
`lmspec diff` answers, without root causes or costs).

    python bench/cached_rerun.py [--steps 1000] [--repeat 5] [--dvc /path/to/dvc]
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from run_overhead import generate

REPO = Path(__file__).resolve().parent.parent


def timed(command: list[str], cwd: Path, env: dict[str, str] | None = None, check: bool = True) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=check, capture_output=True)
    return time.perf_counter() - start


def dvc_yaml(steps: int, changed: int | None = None) -> str:
    """`generate`'s plan as DVC stages: `docs` copies a.txt, each `d<i>` copies its upstream's file.
    `changed`: that stage's command writes one more byte (a config change of one step)."""
    lines = ["stages:", "  docs:", "    cmd: cp a.txt docs.txt", "    deps: [a.txt]", "    outs: [docs.txt]"]
    for i in range(steps - 1):
        upstream = "docs" if i % 10 == 0 else f"d{i - 1}"
        command = f"cp {upstream}.txt d{i}.txt" + (" && echo >> d{i}.txt" if i == changed else "")
        lines += [f"  d{i}:", f"    cmd: {command}", f"    deps: [{upstream}.txt]", f"    outs: [d{i}.txt]"]
    return "\n".join(lines) + "\n"


def summary(name: str, times: list[float]) -> str:
    return f"{name}: best {min(times):.3f} s, median {statistics.median(times):.3f} s over {len(times)} runs"


def lmspec_rows(folder: Path, steps: int, repeat: int) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "LMSPEC_PLUGINS": "tests.support.executors"}
    (folder / "plan.toml").write_text(generate(steps))
    (folder / "a.txt").write_text("one line of text\n")
    run = [sys.executable, "-m", "lmspec.cli", "run", "plan.toml", "--quiet", "--root", "runs"]
    fresh = timed(run, folder, env)
    cached = [timed(run, folder, env) for _ in range(repeat)]
    return [
        f"lmspec run, first (every step executed): {fresh:.2f} s",
        summary(f"lmspec run, all {steps} steps cached, whole process", cached),
    ]


def dvc_rows(dvc: str, folder: Path, steps: int, repeat: int) -> list[str]:
    """DVC's first `repro` of 1,000 stages takes longer than a coffee (quadratic: 450 stages in 8 min here),
    so the outputs are made by the same copies its commands would run and recorded with `dvc commit`:
    the state a finished `repro` leaves (every stage in dvc.lock, every output in the cache)."""
    subprocess.run([dvc, "init", "--no-scm", "-q"], cwd=folder, check=True)
    (folder / "dvc.yaml").write_text(dvc_yaml(steps))
    (folder / "a.txt").write_text("one line of text\n")
    for name in ["docs", *(f"d{i}" for i in range(steps - 1))]:
        (folder / f"{name}.txt").write_text("one line of text\n")
    commit = timed([dvc, "commit", "-f", "-q"], folder)
    cached = [timed([dvc, "repro", "-q"], folder) for _ in range(repeat)]
    (folder / "dvc.yaml").write_text(dvc_yaml(steps, changed=0))
    status = [timed([dvc, "status", "-q"], folder, check=False) for _ in range(repeat)]  # exit 1: changes
    return [
        f"dvc commit (records {steps} finished stages): {commit:.2f} s",
        summary(f"dvc repro, all {steps} stages up to date", cached),
        summary(f"dvc status, one of {steps} stages changed", status),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dvc", help="a dvc executable, to measure the peer in the same run")
    args = parser.parse_args()
    compileall.compile_dir(REPO / "lmspec", quiet=1)  # where PYTHONDONTWRITEBYTECODE=1, each start would compile
    with tempfile.TemporaryDirectory(prefix="lmspec-cached-") as tmp:
        (Path(tmp) / "lmspec").mkdir()
        print("\n".join(lmspec_rows(Path(tmp) / "lmspec", args.steps, args.repeat)), flush=True)
        if args.dvc:
            (Path(tmp) / "dvc").mkdir()
            print("\n".join(dvc_rows(args.dvc, Path(tmp) / "dvc", args.steps, args.repeat)))


if __name__ == "__main__":
    main()
