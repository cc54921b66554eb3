"""Benchmark: validate + compile of a generated 1,000-step spec, and `lmspec validate` as a whole process.

Targets (bench/README.md): 1,000 steps in under 1 s in-process; `lmspec validate` on the quickstart in
under 0.5 s wall clock, interpreter start-up included.

    python bench/compile_scale.py [--steps 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import compileall
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def generate(steps: int) -> str:
    """An ablation-shaped spec: shared ingest and tokenizer, then filter -> tokenize -> train -> evaluate arms."""
    parts = [
        '[experiment]\nname = "scale"\n\n[vars]\nseq_len = 128\n',
        '[steps.docs]\nkind = "ingest"\npaths = ["data/*.jsonl.gz"]\nformat = "jsonl"\n',
        '[steps.tokenizer]\nkind = "train_tokenizer"\ninput = "@docs"\nvocab_size = 1024\n',
    ]
    for i in range(-(-(steps - 2) // 4)):  # enough arms for at least `steps` steps
        parts.append(
            f'[steps.filtered_{i}]\nkind = "filter"\ninput = "@docs"\n'
            f'rules = [{{ kind = "compression_ratio", min = 0.1, max = {0.5 + i / (steps * 2):.6f} }}, '
            '{ kind = "gopher_quality" }]\n'
            f'[steps.tokens_{i}]\nkind = "tokenize"\ninput = "@filtered_{i}"\ntokenizer = "@tokenizer"\n'
            f'[steps.model_{i}]\nkind = "train"\ndata = "@tokens_{i}"\nsteps = 100\nbatch_size = 8\n'
            'model = { preset = "tiny", seq_len = "${vars.seq_len}" }\noptimizer = { lr = 1e-3, z_loss = 1e-4 }\n'
            f'[steps.eval_{i}]\nkind = "evaluate"\nmodel = "@model_{i}"\nperplexity = ["@tokens_{i}"]\n'
        )
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    compileall.compile_dir(REPO / "lmspec", quiet=1)  # where PYTHONDONTWRITEBYTECODE=1, each start would compile

    from lmspec.compiler import compile_spec

    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "scale.toml"
        spec.write_text(generate(args.steps), encoding="utf-8")
        compile_spec(spec, tmp)  # warm: schema adapters built, modules imported
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            plan = compile_spec(spec, tmp)
            times.append(time.perf_counter() - start)
        print(
            f"validate+compile, {len(plan.steps)} steps, {spec.stat().st_size // 1024} KiB spec: "
            f"best {min(times):.3f} s, median {statistics.median(times):.3f} s over {args.repeat} runs"
        )
        head = Path(tmp) / "head.toml"  # one filter threshold changed: one arm re-runs
        head.write_text(spec.read_text().replace("max = 0.500000", "max = 0.450000", 1), encoding="utf-8")
        diff = [str(Path(sys.executable).with_name("lmspec")), "diff", str(spec), str(head), "--root", tmp]
        walls = [_wall(diff) for _ in range(args.repeat)]
        print(
            f"`lmspec diff` of two {len(plan.steps)}-step specs as a process: best {min(walls):.3f} s, "
            f"median {statistics.median(walls):.3f} s over {len(walls)} runs"
        )

    command = [str(Path(sys.executable).with_name("lmspec")), "validate", "examples/quickstart.toml"]
    walls = [_wall(command) for _ in range(args.repeat * 2)]
    print(
        f"`lmspec validate examples/quickstart.toml` as a process: best {min(walls):.3f} s, "
        f"median {statistics.median(walls):.3f} s over {len(walls)} runs"
    )


def _wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True, capture_output=True)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
