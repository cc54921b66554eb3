"""`evaluate`: bits-per-byte and perplexity on held-out splits, and lm-eval tasks, for one trained model.

Everything that can fail without the model is done first: every held-out split is read (once, for
perplexity and for the cloze task), every lm-eval task is built with its data. Then the model loads and
scores the perplexity sets (`perplexity.py`) and the tasks (`harness.py`). Every metric goes into the
output's results with its stderr, each set's and task's per-item scores beside them
(`lmspec.outputs.metrics`), and the metrics into the catalog.
"""

from __future__ import annotations

import time

from lmspec.outputs.metrics import EvaluationResults, Metrics, write_items
from lmspec.outputs.model import ModelCheckpoint
from lmspec.outputs.tokens import TokenizedData
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.evaluation import chat_eval, harness
from lmspec.runtime.evaluation.cloze import write_cloze_task
from lmspec.runtime.evaluation.perplexity import HeldOut, held_out, score_split
from lmspec.runtime.registry import executes
from lmspec.schemas.base import ref_name
from lmspec.schemas.evaluation import LOCAL_TASKS, Evaluate


@executes(Evaluate)
def evaluate(ctx: StepContext[Evaluate]) -> StepResult:
    from lmspec.runtime.evaluation.adapter import MaxTextLM

    spec = ctx.spec
    started = time.time()
    splits = {ref_name(ref): held_out(ctx.input(ref, TokenizedData).path) for ref in _data_refs(spec)}
    prepared = _prepare_tasks(ctx, splits) if spec.lm_eval is not None else None
    batch_size = spec.lm_eval.batch_size if spec.lm_eval else 8
    model = MaxTextLM(path=str(ctx.input(spec.model, ModelCheckpoint).path), batch_size=batch_size)
    metrics: dict[str, float] = {}
    for entry in spec.perplexity_sets():
        scores, items = score_split(model, splits[ref_name(entry.data)], entry)
        ctx.log.info("%s: %s", entry.name, scores)
        write_items(ctx.output_dir, entry.name, items.items())
        metrics.update({f"{entry.name}/{metric}": value for metric, value in scores.items()})
    if spec.lm_eval is not None and prepared is not None:
        metrics.update(harness.run(model, spec.lm_eval, prepared, ctx.output_dir))
    if spec.chat is not None:  # post-training's measures (lmspec.runtime.evaluation.chat_eval)
        metrics.update(chat_eval.run(ctx, model, spec.chat))
    EvaluationResults(metrics, round(time.time() - started, 3)).write(ctx.output_dir)
    return StepResult(metrics=metrics)


def _data_refs(spec: Evaluate) -> list[str]:
    """Each tokenize step the perplexity sets read, once, in order."""
    return list(dict.fromkeys(entry.data for entry in spec.perplexity_sets()))


def _prepare_tasks(ctx: StepContext[Evaluate], splits: dict[str, HeldOut]) -> harness.PreparedTasks:
    """The cloze task's data (from the first perplexity set's split) and every task built with its data."""
    spec = ctx.spec
    assert spec.lm_eval is not None  # only called for steps with lm-eval tasks
    task_dir = Metrics(ctx.output_dir).tasks_dir
    if any(name in LOCAL_TASKS for name in spec.lm_eval.task_names):  # the schema requires a perplexity set
        write_cloze_task(splits[ref_name(spec.perplexity_sets()[0].data)].texts, task_dir)
    include = [str(task_dir)] + ([str(ctx.local_path(spec.lm_eval.include_path))] if spec.lm_eval.include_path else [])
    return harness.prepare(spec.lm_eval, include, ctx.local_path)
