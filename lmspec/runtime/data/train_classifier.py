"""`train_classifier`: a fastText quality classifier from positive and negative document steps, or from one
step's documents split by a score attribute (`label = { attribute, threshold }`, e.g. an LLM's labels).

Examples are sampled per class (at most `max_examples_per_class`, a seeded reservoir so every document
has the same chance), split into train and validation, and trained single-threaded so the same seed
gives the same model file. Precision, recall and F1 of the positive label on the validation split go
into its stats and the catalog; with a score attribute, also `agreement`, the share of validation documents
on whose class the classifier and the score agree.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lmspec.outputs.classifier import Classifier, ClassifierStats
from lmspec.outputs.documents import DataError, Documents
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.data.fasttext_models import fasttext_line
from lmspec.runtime.data.ingest import expand_paths, jsonl_records
from lmspec.runtime.registry import executes
from lmspec.schemas.base import is_ref
from lmspec.schemas.data import TrainClassifier
from lmspec.schemas.labels import AttributeLabel

NEGATIVE_LABEL = "other"
ATTRIBUTE_POSITIVE_LABEL = "hq"
"""The positive label of a classifier trained from a score attribute: what a classifier rule selects by default."""
TRAIN_FILE = "train.txt"
"""fastText reads its examples from a file: written beside the model, removed once it is trained."""


@executes(TrainClassifier)
def train_classifier(ctx: StepContext[TrainClassifier]) -> StepResult:
    import fasttext

    spec = ctx.spec
    label = spec.label if isinstance(spec.label, str) else ATTRIBUTE_POSITIVE_LABEL
    if label == NEGATIVE_LABEL:
        raise DataError(f"label `{NEGATIVE_LABEL}` is reserved for the negative class; choose another label")
    rng = random.Random(spec.seed)
    positive_texts, negative_texts = _classes(ctx)
    positive = _sample(positive_texts, spec.max_examples_per_class, rng)
    negative = _sample(negative_texts, spec.max_examples_per_class, rng)
    if not positive or not negative:
        raise DataError(
            f"train_classifier needs documents on both sides; got {len(positive)} positive and {len(negative)} negative"
        )
    examples = [(label, t) for t in positive] + [(NEGATIVE_LABEL, t) for t in negative]
    rng.shuffle(examples)
    n_valid = int(len(examples) * spec.validation_fraction)
    valid, train = examples[:n_valid], examples[n_valid:]
    train_file = ctx.output_dir / TRAIN_FILE
    train_file.write_text("".join(f"__label__{lab} {text}\n" for lab, text in train))
    try:
        model = fasttext.train_supervised(
            input=str(train_file),
            epoch=spec.epochs,
            lr=spec.lr,
            wordNgrams=spec.word_ngrams,
            dim=spec.dim,
            minCount=spec.min_count,
            seed=spec.seed,
            thread=1,
            verbose=0,
        )
    except RuntimeError as exc:  # fastText reports divergence as RuntimeError("Encountered NaN.")
        raise DataError(
            f"fastText training failed ({exc}) on {len(train)} examples: give it more, and more varied, "
            "examples, or lower lr"
        ) from None
    model.save_model(str(Classifier(ctx.output_dir).model_file))
    train_file.unlink()
    precision, recall, f1, agreement = _scores(model, valid, label) if valid else (None, None, None, None)
    stats = ClassifierStats(
        positive=len(positive),
        negative=len(negative),
        train=len(train),
        validation=len(valid),
        precision=precision,
        recall=recall,
        f1=f1,
    )
    stats.write(ctx.output_dir)
    ctx.log.info("classifier: %s", stats)
    counts = {
        "positive": stats.positive,
        "negative": stats.negative,
        "train": stats.train,
        "validation": stats.validation,
    }
    metrics = {"precision": precision, "recall": recall, "f1": f1} if valid else {}
    if valid and isinstance(spec.label, AttributeLabel):
        metrics["agreement"] = agreement
    return StepResult(counts=counts, metrics=metrics)


def _classes(ctx: StepContext[TrainClassifier]) -> tuple[Iterable[str], Iterable[str]]:
    """The positive and the negative texts: from the two sides' sources, or `input` split by its score."""
    spec = ctx.spec
    if not isinstance(spec.label, AttributeLabel):
        return _texts(spec.positive, ctx), _texts(spec.negative, ctx)
    assert spec.input is not None  # the schema requires it with an attribute label
    positive: list[str] = []
    negative: list[str] = []
    for doc in ctx.input(spec.input, Documents).read():
        score = doc["attributes"].get(spec.label.attribute)
        if not isinstance(score, int | float) or isinstance(score, bool):
            raise DataError(
                f"{spec.input}: document `{doc['id']}` has no numeric attribute `{spec.label.attribute}` "
                f"(it has {score!r}); `label.attribute` must name a score every document carries (an llm_label "
                "step writes its `attribute`, `llm_label` by default)"
            )
        (positive if score >= spec.label.threshold else negative).append(doc["text"])
    return positive, negative


def _texts(entries: list[str], ctx: StepContext[TrainClassifier]) -> Iterator[str]:
    """The texts of step references (their documents) and of JSONL files or globs (their `text` field)."""
    for entry in entries:
        if is_ref(entry):
            yield from (doc["text"] for doc in ctx.input(entry, Documents).read())
            continue
        for path in expand_paths([entry], ctx.spec_dir):
            for item in jsonl_records(Path(path), path, "text", fix="every example needs its text there"):
                if isinstance(item, DataError):
                    raise item
                yield item[2]


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


def _scores(model: Any, valid: list[tuple[str, str]], label: str) -> tuple[float, float, float, float]:
    """Precision, recall and F1 of `label` on the validation examples, and the share classified right."""
    predicted = [labels[0].removeprefix("__label__") for labels in model.predict([t for _, t in valid], k=1)[0]]
    truth = [lab for lab, _ in valid]
    tp = sum(p == label and t == label for p, t in zip(predicted, truth, strict=True))
    fp = sum(p == label and t != label for p, t in zip(predicted, truth, strict=True))
    fn = sum(p != label and t == label for p, t in zip(predicted, truth, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    agreement = sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(truth)
    return round(precision, 4), round(recall, 4), round(f1, 4), round(agreement, 4)
