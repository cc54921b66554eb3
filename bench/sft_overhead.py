"""Benchmark: SFT throughput of `lmspec run` against the same MaxText SFT command run directly.

Target (bench/README.md): tokens/s of an sft step under lmspec >= 0.97x MaxText's `train_sft_native` run by
hand, after warm-up, as `train_overhead.py` measures for `train`. A tiny base is pre-trained once; each round
then runs the sft step under lmspec (from a copy of that root) and MaxText directly with the flags lmspec
lowered (read back from the output), on the same conversations (re-prepared with lmspec's own writer, since
the step's resume directory is gone once it succeeds) and the tokenizer carrying the same template.

    python bench/sft_overhead.py [--steps 150] [--repeat 2]
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

from bench.train_overhead import median_tokens_per_s  # noqa: E402
from examples.post_training_data import make  # noqa: E402
from lmspec.compiler.maxtext import RUN_NAME, command_line  # noqa: E402
from lmspec.outputs.chat import CONVERSATIONS, conversations, prepared_file, prepared_glob  # noqa: E402
from lmspec.outputs.documents import Documents  # noqa: E402
from lmspec.outputs.model import TENSORBOARD_DIR, Flags, ModelCheckpoint  # noqa: E402
from lmspec.outputs.tokenizer import tokenizer_dir  # noqa: E402
from lmspec.runtime.training.chat import write_conversations  # noqa: E402
from lmspec.schemas.post_training import Sft  # noqa: E402

BASE = """
[experiment]
name = "sft-overhead"

[steps.manual]
kind = "ingest"
paths = ["data/manual.jsonl"]
format = "jsonl"

[steps.tok]
kind = "train_tokenizer"
input = "@manual"
vocab_size = 1024

[steps.tokens]
kind = "tokenize"
input = "@manual"
tokenizer = "@tok"
validation_fraction = 0.0

[steps.base]
kind = "train"
data = "@tokens"
steps = 20
batch_size = 8

[steps.chat]
kind = "ingest"
paths = ["data/chat.jsonl"]
format = "chat"
"""
SFT = """
[steps.sft]
kind = "sft"
init_from = "@base"
data = "@chat"
chat_template = "chatml"
optimizer = {{ lr = 1e-3 }}
steps = {steps}
batch_size = 8
checkpoint_every = 100000
"""


def _lmspec(spec: Path, root: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "lmspec.cli", "run", str(spec), "--root", str(root), "--quiet"],
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def _output(root: Path, step: str) -> Path:
    [path] = [p for p in root.glob(f"{step}-*") if p.is_dir() and "." not in p.name]
    return path


def run_direct(flags: Flags, root: Path, work: Path, env: dict[str, str]) -> tuple[float, Path]:
    """MaxText's SFT trainer on the flags of the sft step under `root`, reading the same conversations and
    tokenizer (written into `work`)."""
    shutil.rmtree(work, ignore_errors=True)
    chats = (messages for _, messages in conversations(Documents(_output(root, "chat"))))
    write_conversations(prepared_file(work, CONVERSATIONS, 0), chats)
    ModelCheckpoint(_output(root, "sft")).tokenizer.copy_to(work)
    mine = {
        **flags,
        "base_output_directory": str(work),
        "grain_train_files": prepared_glob(str(work), CONVERSATIONS),
        "tokenizer_path": tokenizer_dir(str(work)),
    }
    command = command_line(mine, python=sys.executable, module=Sft.trainer)
    started = time.perf_counter()
    with (work / "maxtext.log").open("w") as log:  # as lmspec runs it: output to a file, not a pipe
        subprocess.run(command, env={**env, "JAX_PLATFORMS": "cpu"}, check=True, stdout=log, stderr=subprocess.STDOUT)
    return time.perf_counter() - started, work / RUN_NAME / TENSORBOARD_DIR


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("CI", None)
    results: dict[str, list[float]] = {"lmspec": [], "direct": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make(folder / "data")
        (folder / "base.toml").write_text(BASE)
        (folder / "spec.toml").write_text(BASE + SFT.format(steps=args.steps))
        _lmspec(folder / "base.toml", folder / "base-runs", env)
        flags: Flags = {}
        source = folder / "base-runs"
        for attempt in range(args.repeat):
            root = folder / f"runs-{attempt}"
            shutil.copytree(folder / "base-runs", root)  # the base model, already trained: only sft runs
            # Odd rounds run MaxText first (on the previous round's flags), so a drift in speed favours neither.
            for who in ("lmspec", "direct") if attempt % 2 == 0 else ("direct", "lmspec"):
                if who == "lmspec":
                    wall = _lmspec(folder / "spec.toml", root, env)
                    model, source = ModelCheckpoint(_output(root, "sft")), root
                    flags, tensorboard = model.flags(), model.tensorboard
                else:
                    wall, tensorboard = run_direct(flags, source, folder / f"direct-{attempt}", env)
                results[who].append(median_tokens_per_s(tensorboard, args.warmup))
            print(
                f"round {attempt + 1}: lmspec {results['lmspec'][-1]:,.0f} tokens/s, "
                f"direct {results['direct'][-1]:,.0f} tokens/s (last wall {wall:.1f} s)",
                flush=True,
            )
    lmspec, direct = statistics.median(results["lmspec"]), statistics.median(results["direct"])
    print(
        f"sft, tiny preset, {args.steps} steps, batch 8: lmspec {lmspec:,.0f} tokens/s, MaxText direct "
        f"{direct:,.0f} tokens/s (medians after step {args.warmup}); ratio {lmspec / direct:.3f} (target >= 0.97)"
    )


if __name__ == "__main__":
    main()
