"""`evaluate`: bits-per-byte on held-out splits, and lm-eval tasks, for one trained model.

Bits-per-byte = -sum log2 p(token) over a text's tokens (eos included, conditioned on bos, in the model's
disjoint windows) / its UTF-8 bytes: comparable across tokenizers. lm-eval runs in-process through the
`lmspec-maxtext` adapter, with the shipped offline tasks (generated here from held-out documents) on
its task path besides any `include_path` the spec names. Every metric, with its stderr where lm-eval
gives one, goes into the output's results (`lmspec.outputs.metrics`) and the catalog.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import random
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from lmspec.errors import LmspecError
from lmspec.outputs.metrics import EvaluationResults, Metrics, write_lm_eval
from lmspec.outputs.model import ModelCheckpoint
from lmspec.outputs.tokens import VALIDATION, TokenizedData
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.registry import executes
from lmspec.schemas.base import ref_name
from lmspec.schemas.evaluation import LOCAL_TASKS, Evaluate

CLOZE_CONTEXT_WORDS = 24
CLOZE_CONTINUATION_WORDS = 8
CLOZE_CHOICES = 4
NETWORK_HINTS = ("offline", "connection", "resolve", "name resolution", "couldn't reach", "max retries", "timed out")
OFFLINE_SWITCHES = ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")


class EvaluationError(LmspecError):
    """An evaluation that cannot run as asked: an unknown task, a task that needs the network, bad data."""


@executes(Evaluate)
def evaluate(ctx: StepContext[Evaluate]) -> StepResult:
    from lmspec.runtime.evaluation.adapter import MaxTextLM

    spec = ctx.spec
    started = time.time()
    batch_size = spec.lm_eval.batch_size if spec.lm_eval else 8
    # Data and tasks before the model: an empty split, a typo or an unreachable Hub should not cost a
    # checkpoint restore. Each validation split is read once, for bits-per-byte and the cloze task.
    splits = {ref_name(ref): held_out(ctx.input(ref, TokenizedData).path) for ref in spec.perplexity}
    manager = prepare_tasks(spec, ctx, splits) if spec.lm_eval is not None else None
    model = MaxTextLM(path=str(ctx.input(spec.model, ModelCheckpoint).path), batch_size=batch_size)
    metrics: dict[str, float] = {}
    for name, split in splits.items():
        scores = bits_per_byte(model, split)
        ctx.log.info("@%s: %s", name, scores)
        metrics.update({f"{name}/{metric}": value for metric, value in scores.items()})
    if spec.lm_eval is not None:
        metrics.update(_lm_eval(spec, model, manager, ctx))
    EvaluationResults(metrics, round(time.time() - started, 3)).write(ctx.output_dir)
    return StepResult(metrics=metrics)


@dataclass(frozen=True)
class HeldOut:
    """A tokenize output's validation split: its documents in file order, and whether training appended eos."""

    texts: list[str]
    append_eos: bool


def held_out(tokens_output: Path) -> HeldOut:
    """The validation split of a tokenize output; empty is an error, since nothing can be measured on it."""
    tokens = TokenizedData(tokens_output)
    texts = tokens.read_split(VALIDATION)
    if not texts:
        raise EvaluationError(
            f"{tokens_output} has an empty validation split: raise its validation_fraction to measure bits-per-byte"
        )
    return HeldOut(texts, tokens.info().append_eos)


def bits_per_byte(model: Any, split: HeldOut) -> dict[str, float]:
    """Bits-per-byte and per-token perplexity of the model on a held-out split."""
    eos = [model.eot_token_id] if split.append_eos else []
    encoded = [model.tok_encode(text) + eos for text in split.texts]
    logprob = sum(model.rolling_logprobs(encoded))
    n_bytes = sum(len(text.encode("utf-8")) for text in split.texts)
    n_tokens = sum(len(tokens) for tokens in encoded)
    return {
        "bits_per_byte": -logprob / math.log(2) / n_bytes,
        "perplexity": math.exp(-logprob / n_tokens),
        "documents": float(len(split.texts)),
    }


def prepare_tasks(spec: Evaluate, ctx: StepContext[Evaluate], splits: dict[str, HeldOut]) -> Any:
    """The lm-eval task index with every asked task known and its data loaded, or an EvaluationError.

    Loading here, before the model, makes a task that needs the unreachable Hub fail in seconds;
    `simple_evaluate` loads the tasks again, from the datasets cache this filled.
    """
    assert spec.lm_eval is not None
    task_dir = Metrics(ctx.output_dir).tasks_dir
    if any(t in LOCAL_TASKS for t in spec.lm_eval.tasks):  # the schema requires a `perplexity` step for these
        write_cloze_task(splits[ref_name(spec.perplexity[0])].texts, task_dir)
    manager = task_manager(spec.lm_eval.tasks, [str(task_dir), *_user_tasks(spec, ctx)])
    load_tasks(manager, spec.lm_eval.tasks)
    return manager


def load_tasks(manager: Any, tasks: list[str]) -> None:
    """Load the tasks' data; a failure to reach the Hugging Face Hub names the tasks and the offline ones."""
    try:
        manager.load(list(tasks))
    except Exception as exc:
        offline = any(os.environ.get(name, "0").lower() in ("1", "true") for name in OFFLINE_SWITCHES)
        if not (offline or any(hint in str(exc).lower() for hint in NETWORK_HINTS)):
            raise
        remote = [t for t in tasks if t not in LOCAL_TASKS]
        reason = "offline mode is on" if offline else "the Hub cannot be reached"
        raise EvaluationError(
            f"lm-eval task(s) {', '.join(remote)} download their data from the Hugging Face Hub, and {reason} "
            f"({str(exc).splitlines()[0][:200]}); run them where the Hub is reachable, or use the offline tasks "
            f"({', '.join(LOCAL_TASKS)}) or your own task YAMLs via include_path"
        ) from None


def _lm_eval(spec: Evaluate, model: Any, manager: Any, ctx: StepContext[Evaluate]) -> dict[str, float]:
    import lm_eval

    assert spec.lm_eval is not None
    output = lm_eval.simple_evaluate(
        model=model,
        tasks=list(spec.lm_eval.tasks),
        num_fewshot=spec.lm_eval.num_fewshot,
        limit=spec.lm_eval.limit,
        task_manager=manager,
        random_seed=0,
        numpy_random_seed=0,
        fewshot_random_seed=0,
        log_samples=False,
    )
    write_lm_eval(ctx.output_dir, output["results"])
    return task_metrics(output["results"])


def _user_tasks(spec: Evaluate, ctx: StepContext[Evaluate]) -> list[str]:
    """The spec's `include_path` (relative to the spec file), if any."""
    if spec.lm_eval is None or not spec.lm_eval.include_path:
        return []
    return [str(ctx.local_path(spec.lm_eval.include_path))]


def task_manager(tasks: list[str], include: list[str]) -> Any:
    """lm-eval's task index over its bundled tasks and `include`; an unknown name is an error with close matches."""
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=include)
    known = sorted(set(manager.all_tasks) | set(LOCAL_TASKS))
    for task in tasks:
        if task not in known:
            close = difflib.get_close_matches(task, known, n=3, cutoff=0.6)
            hint = f"; close matches: {', '.join(close)}" if close else "; `lm_eval ls tasks` lists them"
            raise EvaluationError(f"unknown lm-eval task `{task}`{hint}")
    return manager


def task_metrics(results: dict[str, dict[str, Any]]) -> dict[str, float]:
    """lm-eval's `{"task": {"acc,none": v, "acc_stderr,none": s}}` -> `{"task/acc": v, "task/acc_stderr": s}`."""
    metrics: dict[str, float] = {}
    for task, values in results.items():
        for key, value in values.items():
            name, _, _filter = key.partition(",")
            if _filter and isinstance(value, int | float) and not isinstance(value, bool):
                metrics[f"{task}/{name}"] = float(value)
    return metrics


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
