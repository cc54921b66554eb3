"""`evaluate`'s chat measures: answers generated through the chat template, and held-out preference accuracy.

Answers: each held-out conversation's last assistant message is the reference; the messages before it are
rendered with the template's generation prompt and the model continues greedily through the lm-eval
adapter's `generate_until`, stopping where the template ends a turn. Scored by exact match (whitespace
normalised) and token F1 (SQuAD's word overlap), each with its standard error over conversations.

Preferences: the share of held-out pairs where log p(chosen | prompt) > log p(rejected | prompt) under the
model, the responses rendered as DPO trains on them (`ChatRenderer.respond`).
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from itertools import islice
from typing import Any

from lmspec.outputs.chat import ASSISTANT, conversations, preference_pairs
from lmspec.outputs.documents import Documents
from lmspec.outputs.metrics import write_items
from lmspec.outputs.model import ModelCheckpoint
from lmspec.runtime.context import StepContext
from lmspec.runtime.training.chat import ChatRenderer, resolve_template
from lmspec.runtime.training.maxtext_run import TrainingError
from lmspec.schemas.chat_eval import ChatEvaluation
from lmspec.schemas.evaluation import Evaluate

ANSWERS, PREFERENCES = "chat", "preferences"
"""Metric name prefixes (and item files) of the two measures."""
WORD = re.compile(r"\w+")


def run(ctx: StepContext[Evaluate], model: Any, spec: ChatEvaluation) -> dict[str, float]:
    """Every chat metric of the step; `model` is its loaded `MaxTextLM`."""
    evaluated = ctx.spec.model
    template = resolve_template(spec.chat_template, ctx.input(evaluated, ModelCheckpoint).tokenizer, evaluated)
    renderer = ChatRenderer(model.tokenizer, template)
    metrics: dict[str, float] = {}
    if spec.conversations is not None:
        metrics.update(_answers(ctx, model, renderer, spec))
    if spec.preferences is not None:
        metrics.update(_preferences(ctx, model, renderer, spec))
    return metrics


def _answers(ctx: StepContext[Evaluate], model: Any, renderer: ChatRenderer, spec: ChatEvaluation) -> dict[str, float]:
    from lm_eval.api.instance import Instance

    assert spec.conversations is not None
    chats = list(islice(conversations(ctx.input(spec.conversations, Documents)), spec.limit))
    stop = {"until": [renderer.end_of_turn()], "max_gen_toks": spec.max_new_tokens}
    bos = str(model.tokenizer.bos_token)
    requests, references = [], []
    for index, (where, messages) in enumerate(chats):
        if messages[-1]["role"] != ASSISTANT:
            raise TrainingError(f"{where}: a held-out conversation must end with the assistant's reference answer")
        context = renderer.prompt(messages[:-1]).removeprefix(bos)  # the adapter conditions on bos itself
        requests.append(Instance("generate_until", {}, (context, stop), index))
        references.append(messages[-1]["content"])
    answers = model.generate_until(requests)
    items = [
        (where, {"exact_match": float(_normal(a) == _normal(r)), "token_f1": token_f1(a, r)})
        for (where, _), a, r in zip(chats, answers, references, strict=True)
    ]
    ctx.log.info("chat: first answer %r (reference %r)", answers[0] if answers else None, references[:1])
    return _summarise(ctx, ANSWERS, items)


def _preferences(
    ctx: StepContext[Evaluate], model: Any, renderer: ChatRenderer, spec: ChatEvaluation
) -> dict[str, float]:
    assert spec.preferences is not None
    pairs = list(islice(preference_pairs(ctx.input(spec.preferences, Documents)), spec.limit))
    sequences = []
    for where, pair in pairs:
        for response in (pair.chosen, pair.rejected):
            prompt, answer = renderer.respond(pair.prompt, response, where)
            answer_tokens = model.tok_encode(answer)
            sequences.append((model.tok_encode(prompt) + answer_tokens, len(answer_tokens)))
    scored = model.scorer.score(sequences)
    items = [
        (where, {"accuracy": float(chosen.logprob > rejected.logprob), "margin": chosen.logprob - rejected.logprob})
        for (where, _), chosen, rejected in zip(pairs, scored[::2], scored[1::2], strict=True)
    ]
    return _summarise(ctx, PREFERENCES, items)


def _summarise(ctx: StepContext[Evaluate], name: str, items: list[tuple[str, dict[str, float]]]) -> dict[str, float]:
    """Each measure's mean over items with its standard error (`name/measure`, `name/measure_stderr`); the
    per-item scores go beside the other sets' (`write_items`)."""
    write_items(ctx.output_dir, name, items)
    metrics: dict[str, float] = {}
    for measure in items[0][1] if items else {}:
        values = [scores[measure] for _, scores in items]
        metrics[f"{name}/{measure}"] = statistics.fmean(values)
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        metrics[f"{name}/{measure}_stderr"] = spread / math.sqrt(len(values))
    ctx.log.info("%s: %s", name, metrics)
    return metrics


def _normal(text: str) -> str:
    return " ".join(text.split())


def token_f1(answer: str, reference: str) -> float:
    """SQuAD's F1 of the lower-cased words two texts share."""
    ours, theirs = Counter(WORD.findall(answer.lower())), Counter(WORD.findall(reference.lower()))
    common = sum((ours & theirs).values())
    if not common:
        return 0.0
    precision, recall = common / sum(ours.values()), common / sum(theirs.values())
    return 2 * precision * recall / (precision + recall)
