"""Benchmark: `llm_label` documents per second at batch 1 and batched, and how far batching moves a label.

Both backends run the labeller `llm_label` runs (`lmspec.runtime.data.llm_scoring.Labeller`) on paragraphs
of the Python reference manual; the first batch of each size warms up (JIT compilation) and is not timed.

    .venv/bin/python bench/llm_label_throughput.py maxtext [--docs 64] [--batches 1 16]
        CPU: a tiny MaxText model (the datashop example's labeller: preset tiny, 128 tokens), trained for
        two steps by `lmspec run` in a temporary root, with the example's short prompt and max_chars 200.
    python bench/llm_label_throughput.py hf --preset 150m 1b [--docs 256] [--batches 1 16 64]
        PyTorch (the GPU when there is one): random-weight Llamas with the presets' dimensions and a 32k
        vocabulary, saved as Hugging Face directories, with the ask_llm prompt and max_chars 2000.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from examples.datashop_data import PROMPT, write_hf_labeller  # noqa: E402
from examples.quickstart_data import english_paragraphs, write_jsonl  # noqa: E402
from lmspec.runtime.data.llm_scoring import HuggingFaceBackend, Labeller, MaxTextBackend, SequenceScorer  # noqa: E402
from lmspec.schemas.labels import YesProbability  # noqa: E402
from lmspec.schemas.training import MODEL_PRESETS  # noqa: E402

TINY_SPEC = """
[experiment]
name = "bench"

[steps.docs]
kind = "ingest"
paths = ["docs.jsonl"]
format = "jsonl"

[steps.tok]
kind = "train_tokenizer"
input = "@docs"
vocab_size = 1024

[steps.tokens]
kind = "tokenize"
input = "@docs"
tokenizer = "@tok"

[steps.model]
kind = "train"
data = "@tokens"
model = { preset = "tiny" }
steps = 2
batch_size = 8
"""


def tiny_maxtext(folder: Path) -> Path:
    """A two-step tiny MaxText model (its weights barely trained: the speed does not depend on them)."""
    write_jsonl(folder / "docs.jsonl", english_paragraphs())
    (folder / "spec.toml").write_text(TINY_SPEC)
    command = [sys.executable, "-m", "lmspec.cli", "run", str(folder / "spec.toml"), "--root", str(folder / "runs")]
    subprocess.run(command, check=True, env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True)
    [model] = [p for p in (folder / "runs").glob("model-*") if p.is_dir() and "." not in p.name]
    return model


def hf_preset(folder: Path, preset: str) -> Path:
    """A random-weight Llama with a preset's dimensions, as a Hugging Face directory."""
    dims = MODEL_PRESETS[preset]
    hf_dims = {
        "hidden_size": dims["emb_dim"],
        "intermediate_size": dims["mlp_dim"],
        "num_hidden_layers": dims["num_layers"],
        "num_attention_heads": dims["num_heads"],
        "num_key_value_heads": dims["num_kv_heads"],
        "head_dim": dims["head_dim"],
        "max_position_embeddings": dims["seq_len"],
    }
    return write_hf_labeller(folder / preset, english_paragraphs(), vocab_size=32_000, dims=hf_dims)


Backend = Callable[[Path, int], SequenceScorer]
"""A scorer of the model at a path, with a forward-pass size in documents."""


def measure(
    backend: Backend, model: Path, prompt: str, max_chars: int, texts: list[str], batch: int
) -> tuple[float, list[float]]:
    """Documents per second at `batch` documents per forward pass, and each document's label."""
    label = YesProbability(kind="yes_probability")
    labeller = Labeller(backend(model, batch), prompt, label, max_chars)
    labeller.label_texts(texts[:batch])  # compile / warm up
    started = time.perf_counter()
    window = batch * 8  # as llm_label hands its labeller several batches at once (sorted by length)
    values = [
        v.value for start in range(0, len(texts), window) for v in labeller.label_texts(texts[start : start + window])
    ]
    return len(texts) / (time.perf_counter() - started), values


def report(name: str, backend: Backend, model: Path, prompt: str, max_chars: int, args: argparse.Namespace) -> None:
    """One line per batch size: docs/s, speed-up over the first size, largest label difference from it."""
    texts = [t for t in english_paragraphs() if len(t) >= min(max_chars, 400)][: args.docs]
    first = args.batches[0]
    base_rate, base_values = measure(backend, model, prompt, max_chars, texts, first)
    print(f"{name}: batch {first:3d}: {base_rate:8.1f} docs/s", flush=True)
    for batch in args.batches[1:]:
        rate, values = measure(backend, model, prompt, max_chars, texts, batch)
        drift = max(abs(a - b) for a, b in zip(base_values, values, strict=True))
        speedup = rate / base_rate
        print(f"{name}: batch {batch:3d}: {rate:8.1f} docs/s ({speedup:.1f}x), labels within {drift:.1e}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("backend", choices=["maxtext", "hf"])
    parser.add_argument("--preset", nargs="+", default=["150m", "1b"], choices=sorted(MODEL_PRESETS))
    parser.add_argument("--docs", type=int, default=64)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.backend == "maxtext":
            backend: Backend = lambda path, batch: MaxTextBackend(path, batch, answers=2)  # noqa: E731
            report("maxtext tiny", backend, tiny_maxtext(Path(tmp)), PROMPT, 200, args)
            return
        for preset in args.preset:
            report(f"hf {preset}", HuggingFaceBackend, hf_preset(Path(tmp), preset), "ask_llm", 2000, args)


if __name__ == "__main__":
    main()
