"""`train_classifier`: a fastText quality classifier from positive and negative document steps.

Examples are sampled per class (at most `max_examples_per_class`, a seeded reservoir so every document
has the same chance), split into train and validation, and trained single-threaded so the same seed
gives the same model.bin. Precision, recall and F1 of the positive label on the validation split go
into stats.json and the catalog.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lmspec.outputs.documents import DataError, parse_json_line, read_documents, read_lines, shards
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.data.fasttext_models import fasttext_line
from lmspec.runtime.data.ingest import expand_paths
from lmspec.runtime.registry import executes
from lmspec.schemas.data import TrainClassifier

CLASSIFIER_FILE = "model.bin"
NEGATIVE_LABEL = "other"


@executes(TrainClassifier)
def train_classifier(ctx: StepContext[TrainClassifier]) -> StepResult:
    import fasttext

    config = ctx.step.config.model_dump(mode="json")
    started = time.time()
    rng = random.Random(config["seed"])
    positive = _sample(_texts(config["positive"], ctx), config["max_examples_per_class"], rng)
    negative = _sample(_texts(config["negative"], ctx), config["max_examples_per_class"], rng)
    if not positive or not negative:
        raise DataError(
            f"train_classifier needs documents on both sides; got {len(positive)} positive and {len(negative)} negative"
        )
    label = config["label"]
    if label == NEGATIVE_LABEL:
        raise DataError(f"label `{NEGATIVE_LABEL}` is reserved for the negative class; choose another label")
    examples = [(label, t) for t in positive] + [(NEGATIVE_LABEL, t) for t in negative]
    rng.shuffle(examples)
    n_valid = int(len(examples) * config["validation_fraction"])
    valid, train = examples[:n_valid], examples[n_valid:]
    train_file = ctx.output_dir / "train.txt"
    train_file.write_text("".join(f"__label__{lab} {text}\n" for lab, text in train))
    try:
        model = fasttext.train_supervised(
            input=str(train_file),
            epoch=config["epochs"],
            lr=config["lr"],
            wordNgrams=config["word_ngrams"],
            dim=config["dim"],
            minCount=config["min_count"],
            seed=config["seed"],
            thread=1,
            verbose=0,
        )
    except RuntimeError as exc:  # fastText reports divergence as RuntimeError("Encountered NaN.")
        raise DataError(
            f"fastText training failed ({exc}) on {len(train)} examples: give it more, and more varied, "
            "examples, or lower lr"
        ) from None
    model.save_model(str(ctx.output_dir / CLASSIFIER_FILE))
    train_file.unlink()
    metrics = _scores(model, valid, label) if valid else {}
    stats = {
        "positive": len(positive),
        "negative": len(negative),
        "train": len(train),
        "validation": len(valid),
        "seconds": round(time.time() - started, 3),
        **metrics,
    }
    (ctx.output_dir / "stats.json").write_text(json.dumps(stats, indent=2, sort_keys=True))
    ctx.log.info("classifier: %s", stats)
    return StepResult(counts={k: v for k, v in stats.items() if isinstance(v, int)}, metrics=metrics)


def _texts(entries: list[str], ctx: StepContext[TrainClassifier]) -> Iterator[str]:
    """The texts of step references (their document shards) and of JSONL files or globs."""
    for entry in entries:
        if entry.startswith("@"):
            for shard in shards(ctx.inputs[entry[1:]]):
                yield from (doc["text"] for doc in read_documents(shard))
            continue
        for path in map(Path, expand_paths([entry], ctx.spec_dir)):
            for line_no, line in read_lines(path):
                if isinstance(line, DataError):
                    raise line
                if line.strip():
                    text = parse_json_line(path, line_no, line).get("text")
                    if not isinstance(text, str):
                        raise DataError(f"{path}:{line_no}: no string field `text` in this example")
                    yield text


def _sample(texts: Iterable[str], cap: int, rng: random.Random) -> list[str]:
    """Reservoir sample of at most `cap` texts, as fastText lines (every text has the same chance)."""
    sample: list[str] = []
    seen = 0
    for text in texts:
        line = fasttext_line(text)
        if not line:
            continue
        seen += 1
        if len(sample) < cap:
            sample.append(line)
        elif (j := rng.randrange(seen)) < cap:
            sample[j] = line
    return sample


def _scores(model: Any, valid: list[tuple[str, str]], label: str) -> dict[str, float]:
    predicted = [labels[0].removeprefix("__label__") for labels in model.predict([t for _, t in valid], k=1)[0]]
    truth = [lab for lab, _ in valid]
    tp = sum(p == label and t == label for p, t in zip(predicted, truth, strict=True))
    fp = sum(p == label and t != label for p, t in zip(predicted, truth, strict=True))
    fn = sum(p != label and t == label for p, t in zip(predicted, truth, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}
