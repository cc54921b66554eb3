"""Benchmark: training throughput of `lmspec run` against the same MaxText command run directly.

Target (bench/README.md): tokens/s of a train step under lmspec >= 0.97x MaxText run by hand, after
warm-up. Both runs use the flags lmspec lowered (read back from the step's output), the same
data and the same machine; they alternate for `--repeat` rounds, the order flipped every round. Tokens/s
per step come from each run's TensorBoard events; the first `--warmup` steps (compilation, first
checkpoint) are left out and the median of the rest is compared.

    python bench/train_overhead.py [--steps 150] [--repeat 2] [--preset tiny]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from examples.quickstart_data import english_paragraphs, write_jsonl  # noqa: E402
from lmspec.compiler.maxtext import RUN_NAME, command_line  # noqa: E402
from lmspec.outputs.model import TENSORBOARD_DIR, Flags, ModelCheckpoint  # noqa: E402
from lmspec.runtime.training.events import read_series  # noqa: E402
from tests.support.specs import tokenized  # noqa: E402

DATA = tokenized("train-overhead", validation_fraction=0.0)
MODEL = """
[steps.model]
kind = "train"
data = "@tokens"
model = {{ preset = "{preset}" }}
optimizer = {{ lr = 3e-3 }}
steps = {steps}
batch_size = 8
checkpoint_every = 100000
"""


def median_tokens_per_s(tensorboard: Path, warmup: int) -> float:
    points = read_series(tensorboard)["tokens_per_s_per_device"]
    return statistics.median(v for step, v in points if step >= warmup)


def run_lmspec(folder: Path, env: dict[str, str], attempt: int) -> tuple[float, ModelCheckpoint]:
    root = folder / f"runs-{attempt}"
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(folder / "data-runs", root)  # the data steps, already done: only the train step runs
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "lmspec.cli", "run", str(folder / "spec.toml"), "--root", str(root), "--quiet"],
        env=env,
        check=True,
        capture_output=True,
    )
    wall = time.perf_counter() - started
    [model] = [p for p in root.glob("model-*") if p.is_dir() and "." not in p.name]
    return wall, ModelCheckpoint(model)


def run_direct(flags: Flags, folder: Path, env: dict[str, str], attempt: int) -> tuple[float, Path]:
    work = folder / f"direct-{attempt}"
    shutil.rmtree(work, ignore_errors=True)
    command = command_line({**flags, "base_output_directory": str(work)}, python=sys.executable)
    started = time.perf_counter()
    subprocess.run(command, env={**env, "JAX_PLATFORMS": "cpu"}, check=True, capture_output=True)
    return time.perf_counter() - started, work / RUN_NAME / TENSORBOARD_DIR


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--preset", default="tiny")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("CI", None)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_jsonl(folder / "data" / "manual.jsonl", english_paragraphs())
        (folder / "spec.toml").write_text(DATA + MODEL.format(preset=args.preset, steps=args.steps))
        data_only = folder / "data.toml"
        data_only.write_text(DATA)
        subprocess.run(
            [sys.executable, "-m", "lmspec.cli", "run", str(data_only), "--root", str(folder / "data-runs"), "--quiet"],
            env=env,
            check=True,
            capture_output=True,
        )
        results: dict[str, list[float]] = {"lmspec": [], "direct": []}
        walls: dict[str, list[float]] = {"lmspec": [], "direct": []}
        flags: Flags = {}
        for attempt in range(args.repeat):
            # Odd rounds run MaxText directly first, so a drift in the machine's speed favours neither.
            for who in ("lmspec", "direct") if attempt % 2 == 0 or not flags else ("direct", "lmspec"):
                if who == "lmspec":
                    wall, model = run_lmspec(folder, env, attempt)
                    tensorboard = model.tensorboard
                    flags = model.flags()
                else:
                    wall, tensorboard = run_direct(flags, folder, env, attempt)
                results[who].append(median_tokens_per_s(tensorboard, args.warmup))
                walls[who].append(wall)
            print(
                f"round {attempt + 1}: lmspec {results['lmspec'][-1]:,.0f} tokens/s ({walls['lmspec'][-1]:.1f} s), "
                f"direct {results['direct'][-1]:,.0f} tokens/s ({walls['direct'][-1]:.1f} s wall)",
                flush=True,
            )
    lmspec, direct = statistics.median(results["lmspec"]), statistics.median(results["direct"])
    print(
        f"preset {args.preset}, {args.steps} steps, batch 8: lmspec {lmspec:,.0f} tokens/s, MaxText direct "
        f"{direct:,.0f} tokens/s (medians after step {args.warmup}); ratio {lmspec / direct:.3f} (target >= 0.97)"
    )


if __name__ == "__main__":
    main()
