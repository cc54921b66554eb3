"""Benchmark: `lmspec run` overhead, with trivial real steps (tests/support/executors.py).

Targets (bench/README.md): an all-cached re-run of a 200-step plan in under 1.5 s as a whole process;
scheduling overhead per executed trivial step under 20 ms.

    python bench/run_overhead.py [--steps 200] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def generate(steps: int) -> str:
    """One tiny ingest feeding `steps - 1` dedup steps in chains of ten."""
    parts = ['[experiment]\nname = "overhead"\n', '[steps.docs]\nkind = "ingest"\npaths = ["a.txt"]\nformat = "text"\n']
    for i in range(steps - 1):
        upstream = "docs" if i % 10 == 0 else f"d{i - 1}"
        parts.append(f'[steps.d{i}]\nkind = "dedup"\ninput = "@{upstream}"\nmethod = "exact"\n')
    return "\n".join(parts)


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO), "LMSPEC_PLUGINS": "tests.support.executors"}
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "overhead.toml"
        spec.write_text(generate(args.steps))
        (Path(tmp) / "a.txt").write_text("one line of text\n")
        run = [sys.executable, "-m", "lmspec.cli", "run", str(spec), "--quiet"]

        fresh = {n: [] for n in (args.steps, 2 * args.steps)}
        for n in fresh:
            big = Path(tmp) / f"overhead-{n}.toml"
            big.write_text(generate(n))
            for i in range(args.repeat):
                fresh[n].append(timed([*run[:4], str(big), "--quiet", "--root", f"{tmp}/fresh-{n}-{i}"], env))
        done_root = f"{tmp}/fresh-{args.steps}-0"  # the same plan, already run: every step cached
        cached = [timed([*run, "--root", done_root], env) for _ in range(args.repeat)]

    small, large = (statistics.median(fresh[n]) for n in (args.steps, 2 * args.steps))
    all_cached = statistics.median(cached)
    print(
        f"all-cached re-run, {args.steps} steps, whole process: best {min(cached):.3f} s, "
        f"median {all_cached:.3f} s over {args.repeat} runs"
    )
    print(
        f"fresh run of {args.steps} trivial steps: median {small:.2f} s; (fresh - all-cached) / steps = "
        f"{(small - all_cached) / args.steps * 1000:.1f} ms per executed step "
        "(lease, temp dir, log, Luigi import and scheduling, 2 catalog writes, 2 OpenLineage events, publish)"
    )
    print(
        f"marginal, ({2 * args.steps} steps {large:.2f} s - {args.steps} steps {small:.2f} s) / {args.steps} = "
        f"{(large - small) / args.steps * 1000:.1f} ms per step (includes Luigi's scheduler scanning more tasks)"
    )


if __name__ == "__main__":
    main()
