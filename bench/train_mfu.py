"""Benchmark: model FLOPs utilisation (MFU) of a preset as lmspec lowers it, on one GPU.

Runs MaxText with exactly the flags `lmspec run` would give a train step of `--preset` on
`resources = { accelerator = "gpu", type = ACCELERATOR }` (lmspec.compiler.maxtext), except for the
data: MaxText's synthetic batches, so the number measures the model and the device, not a data set.
For each `--batch-sizes` entry it reports the median after `--warmup` steps of

- MaxText's own TFLOP/s per device (counts attention too) / the accelerator's peak from
  lmspec.compiler.hardware, and
- 6·N·tokens/s / peak, the 6ND convention `lmspec compile` uses for its estimates.

Needs a GPU and MaxText with a CUDA jax; the test suite never runs it.

    python bench/train_mfu.py [--preset 150m] [--accelerator h100] [--batch-sizes 16,32,64] [--steps 60]
                              [--set remat_policy=minimal ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from lmspec.compiler.hardware import ACCELERATORS, parameter_count, resolve_slice  # noqa: E402
from lmspec.compiler.maxtext import RUN_NAME, command_line, hardware_flags, output_flags, train_flags  # noqa: E402
from lmspec.outputs.model import TENSORBOARD_DIR, Flags  # noqa: E402
from lmspec.runtime.training.events import read_series  # noqa: E402
from lmspec.schemas.training import Train  # noqa: E402


def train_step(args: argparse.Namespace, batch_size: int) -> Train:
    return Train.model_validate(
        {
            "kind": "train",
            "data": "@tokens",
            "model": {"preset": args.preset, "dtype": args.dtype},
            "optimizer": {"lr": 3e-4},
            "steps": args.steps,
            "batch_size": batch_size,
        }
    )


def lowered_flags(args: argparse.Namespace, train: Train, work: Path) -> Flags:
    """What `lmspec run` passes MaxText for this train step, with synthetic data in place of a tokenize output."""
    hardware = resolve_slice({"accelerator": "gpu", "type": args.accelerator})
    return {
        **train_flags(train, args.vocab_size),
        **hardware_flags(hardware, train),
        **output_flags(train, str(work)),
        "enable_checkpointing": False,  # a checkpoint write is not training throughput
        "dataset_type": "synthetic",
        **dict(setting.split("=", 1) for setting in args.set),
    }


def measure(args: argparse.Namespace, batch_size: int, folder: Path) -> dict[str, float | int | str]:
    work = folder / f"batch-{batch_size}"
    train = train_step(args, batch_size)
    flags = lowered_flags(args, train, work)
    log = folder / f"maxtext-batch-{batch_size}.log"
    with log.open("w") as out:
        code = subprocess.run(
            command_line(flags, python=sys.executable), stdout=out, stderr=subprocess.STDOUT
        ).returncode
    if code != 0:
        print(f"batch {batch_size}: MaxText exited with {code}; last lines of {log}:", flush=True)
        print("\n".join(log.read_text().splitlines()[-25:]), flush=True)
        return {"batch_size": batch_size, "error": f"exit {code}"}
    series = read_series(work / RUN_NAME / TENSORBOARD_DIR)

    def median(name: str) -> float:
        return statistics.median(v for step, v in series[name] if step >= args.warmup)

    peak = ACCELERATORS[args.accelerator].peak_tflops
    params = parameter_count(train.model.model_dump(), args.vocab_size)
    tokens_per_s = median("tokens_per_s_per_device")
    tflops = median("tflops_per_device")
    result: dict[str, float | int | str] = {
        "batch_size": batch_size,
        "seq_len": int(flags["max_target_length"]),
        "parameters": params,
        "tokens_per_s": tokens_per_s,
        "step_time_s": median("step_time_s"),
        "final_loss": series["loss"][-1][1],
        "maxtext_tflops": tflops,
        "mfu_maxtext": tflops / peak,
        "mfu_6nd": 6 * params * tokens_per_s / 1e12 / peak,
    }
    print(
        f"{' '.join(args.set) or 'as lowered'}: batch {batch_size} x {result['seq_len']}: "
        f"{tokens_per_s:,.0f} tokens/s, step {result['step_time_s']:.3f} s, "
        f"MaxText {tflops:.0f} TFLOP/s = MFU {result['mfu_maxtext']:.1%}; 6ND MFU {result['mfu_6nd']:.1%} "
        f"(peak {peak:.0f} TFLOP/s); loss at step {series['loss'][-1][0]}: {result['final_loss']:.4f}",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="150m")
    parser.add_argument("--accelerator", default="h100", choices=sorted(ACCELERATORS))
    parser.add_argument("--batch-sizes", default="16,32,64")
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--vocab-size", type=int, default=32_000)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra MaxText flag to try")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = [measure(args, int(size), Path(tmp)) for size in args.batch_sizes.split(",")]
    if args.json:
        args.json.write_text(
            json.dumps({"preset": args.preset, "accelerator": args.accelerator, "runs": results}, indent=2)
        )


if __name__ == "__main__":
    main()
