"""Benchmark: `llm_label` documents per second at batch 1 and batched, and how far batching moves a label.

Both backends run the labeller `llm_label` runs (`lmspec.runtime.data.llm_scoring.Labeller`) on paragraphs
of the Python reference manual, one model loaded per batch size, in one process; each labeller labels all the
documents once untimed (JIT compilation of its padded widths), then each of `--repeat` runs times `--passes`
passes of every size, the sizes taking turns, and reports the fastest pass of each (the machine may be
shared: the load average is printed with each run).

    .venv/bin/python bench/llm_label_throughput.py maxtext [--docs 64] [--batches 1 16] [--repeat 3] [--passes 3]
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
from tests.support.specs import tokenized  # noqa: E402

TINY_SPEC = (
    tokenized("bench", paths="docs.jsonl", validation_fraction=0.01)
    + """
[steps.model]
kind = "train"
data = "@tokens"
model = { preset = "tiny" }
steps = 2
batch_size = 8
"""
)


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
WINDOW = 8
"""Batches handed to the labeller at once, as `llm_label` hands it several (it sorts them by length)."""


def warmed(backend: Backend, model: Path, prompt: str, max_chars: int, texts: list[str], batch: int) -> Labeller:
    """A labeller at `batch` documents per forward pass that has labelled `texts` once, untimed: JAX has
    compiled every padded width they need (in a long labelling run, a handful of compilations is noise)."""
    labeller = Labeller(backend(model, batch), prompt, YesProbability(kind="yes_probability"), max_chars)
    measure(labeller, texts, batch)
    return labeller


def measure(labeller: Labeller, texts: list[str], batch: int) -> tuple[float, list[float]]:
    """Documents per second at `batch` documents per forward pass, and each document's label."""
    started = time.perf_counter()
    window = batch * WINDOW
    values = [
        v.value for start in range(0, len(texts), window) for v in labeller.label_texts(texts[start : start + window])
    ]
    return len(texts) / (time.perf_counter() - started), values


def fastest(labellers: dict[int, Labeller], texts: list[str], passes: int) -> dict[int, tuple[float, list[float]]]:
    """The fastest of `passes` passes at each batch size (its docs/s and labels), the sizes taking turns: on a
    shared machine a neighbour's load hits them alike, and the fastest pass is the one it hit least."""
    best: dict[int, tuple[float, list[float]]] = {}
    for _ in range(passes):
        for batch, labeller in labellers.items():
            rate, values = measure(labeller, texts, batch)
            if batch not in best or rate > best[batch][0]:
                best[batch] = (rate, values)
    return best


def report(name: str, backend: Backend, model: Path, prompt: str, max_chars: int, args: argparse.Namespace) -> None:
    """For each run, one line per batch size: docs/s, prompt tokens/s, speed-up over the first size, largest
    label difference from it."""
    texts = [t for t in english_paragraphs() if len(t) >= min(max_chars, 400)][: args.docs]
    labellers = {batch: warmed(backend, model, prompt, max_chars, texts, batch) for batch in args.batches}
    first = args.batches[0]
    tokens = prompt_tokens(labellers[first], texts) / len(texts)
    print(f"{name}: {len(texts)} documents, {tokens:.1f} prompt tokens each on average", flush=True)
    for repeat in range(1, args.repeat + 1):
        best = fastest(labellers, texts, args.passes)
        load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
        print(f"{name}, run {repeat}, fastest of {args.passes} passes (load average {load}):")
        base_rate, base_values = best[first]
        for batch, (rate, values) in best.items():
            drift = max(abs(a - b) for a, b in zip(base_values, values, strict=True))
            print(
                f"  batch {batch:3d}: {rate:8.1f} docs/s ({rate * tokens / 1000:.1f}k prompt tokens/s, "
                f"{rate / base_rate:.1f}x), labels within {drift:.1e}",
                flush=True,
            )


def prompt_tokens(labeller: Labeller, texts: list[str]) -> int:
    """The tokens of every document's prompt, as the labeller builds them (the work a forward pass does)."""
    encode = labeller.scorer.tokenizer.encode
    cut = [min(len(encode(text[: labeller.max_chars], add_special_tokens=False)), labeller.room) for text in texts]
    return sum(cut) + len(texts) * (len(labeller.before) + len(labeller.after))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("backend", choices=["maxtext", "hf"])
    parser.add_argument("--preset", nargs="+", default=["150m", "1b"], choices=sorted(MODEL_PRESETS))
    parser.add_argument("--docs", type=int, default=64)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--repeat", type=int, default=3, help="runs, each reported")
    parser.add_argument("--passes", type=int, default=3, help="passes per run and batch size, the fastest kept")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.backend == "maxtext":
            report("maxtext tiny", MaxTextBackend, tiny_maxtext(Path(tmp)), PROMPT, 200, args)
            return
        for preset in args.preset:
            report(f"hf {preset}", HuggingFaceBackend, hf_preset(Path(tmp), preset), "ask_llm", 2000, args)


if __name__ == "__main__":
    main()
