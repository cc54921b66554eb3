"""`lmspec_cloze`: lmspec's offline multiple-choice task, generated from held-out documents.

For each held-out document long enough to cut, its first words are the context and the choices are its
true continuation and the continuations of other held-out documents at the same position. The data is
written as JSONL beside the task's YAML (the shipped template with the data file's path filled in), in a
folder lm-eval indexes like any `include_path`.
"""

from __future__ import annotations

import json
import random
from importlib import resources
from pathlib import Path

from lmspec.runtime.evaluation.perplexity import EvaluationError

CLOZE_CONTEXT_WORDS = 24
CLOZE_CONTINUATION_WORDS = 8
CLOZE_CHOICES = 4


def write_cloze_task(texts: list[str], folder: Path, seed: int = 0) -> Path:
    """The lmspec_cloze data (JSONL) and its task YAML, from held-out documents long enough to cut."""
    need = CLOZE_CONTEXT_WORDS + CLOZE_CONTINUATION_WORDS
    documents = [words for text in texts if len(words := text.split()) >= need]
    if len(documents) < CLOZE_CHOICES:
        raise EvaluationError(
            f"lmspec_cloze needs at least {CLOZE_CHOICES} held-out documents of {need}+ words; the validation "
            f"split has {len(documents)}: raise validation_fraction"
        )
    rng = random.Random(seed)
    continuation = slice(CLOZE_CONTEXT_WORDS, need)
    lines = []
    for index, words in enumerate(documents):
        others = rng.sample([i for i in range(len(documents)) if i != index], CLOZE_CHOICES - 1)
        choices = [" ".join(words[continuation])] + [" ".join(documents[i][continuation]) for i in others]
        order = list(range(CLOZE_CHOICES))
        rng.shuffle(order)
        lines.append(
            {
                "context": " ".join(words[:CLOZE_CONTEXT_WORDS]),
                "choices": [choices[i] for i in order],
                "gold": order.index(0),
            }
        )
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "lmspec_cloze.jsonl"
    data.write_text("".join(json.dumps(line) + "\n" for line in lines))
    template = resources.files("lmspec.runtime.evaluation").joinpath("tasks/lmspec_cloze.yaml").read_text()
    task = folder / "lmspec_cloze.yaml"
    task.write_text(template.replace("DATA_FILE", str(data)))
    return task
