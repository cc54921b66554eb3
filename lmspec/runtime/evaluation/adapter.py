"""The lm-eval model `lmspec-maxtext`: a MaxText checkpoint that lm-evaluation-harness can evaluate.

    lm_eval --model lmspec-maxtext --model_args path=<train step output>,batch_size=8 --tasks ...

(after `import lmspec.runtime.evaluation.adapter`, which registers it). Log-likelihoods come from
`MaxTextScorer`; `loglikelihood_rolling` scores a text in disjoint windows of the model's length (as
lm-eval's own window code does), `rolling_logprobs` in any strided windows; `generate_until` decodes
greedily, batched, re-running the forward pass per token (no KV cache: these are small models).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lm_eval.api.model import TemplateLM
from lm_eval.api.registry import register_model

from lmspec.runtime.evaluation.model import MaxTextScorer
from lmspec.runtime.evaluation.perplexity import strided_windows

MODEL_NAME = "lmspec-maxtext"
DEFAULT_MAX_GEN_TOKS = 64


@register_model(MODEL_NAME)
class MaxTextLM(TemplateLM):  # type: ignore[misc]
    """lm-eval's causal-LM interface over one trained checkpoint."""

    def __init__(self, path: str, batch_size: int | str = 8, checkpoint: str | None = None, **_: Any) -> None:
        super().__init__()
        self.scorer = MaxTextScorer(Path(path), batch_size=int(batch_size), checkpoint=checkpoint)
        self.tokenizer = self.scorer.tokenizer

    @property
    def eot_token_id(self) -> int:
        return int(self.tokenizer.eos_token_id)

    @property
    def prefix_token_id(self) -> int:
        """Texts are conditioned on beginning-of-sequence, as in training (MaxText adds bos)."""
        return int(self.tokenizer.bos_token_id)

    @property
    def max_length(self) -> int:
        return self.scorer.seq_len

    def tok_encode(self, string: str, add_special_tokens: bool | None = None, **_: Any) -> list[int]:
        return list(self.tokenizer.encode(string, add_special_tokens=False))

    def tok_decode(self, tokens: list[int]) -> str:
        return str(self.tokenizer.decode(tokens))

    def _loglikelihood_tokens(
        self, requests: list[tuple[tuple[str, str], list[int], list[int]]], **_: Any
    ) -> list[tuple[float, bool]]:
        sequences = [
            (self._with_bos(context) + continuation, len(continuation)) for _, context, continuation in requests
        ]
        return [(s.logprob, s.greedy) for s in self.scorer.score(sequences)]

    def _with_bos(self, context: list[int]) -> list[int]:
        """Every training document began with bos; lm-eval's contexts do not (unless empty), so add it."""
        return context if context[:1] == [self.prefix_token_id] else [self.prefix_token_id, *context]

    def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[float]:
        return self.rolling_logprobs([self.tok_encode(request.args[0]) for request in requests])

    def rolling_logprobs(
        self, texts: list[list[int]], window: int | None = None, stride: int | None = None
    ) -> list[float]:
        """log p(tokens | bos) of each token list, in windows of `window` tokens (default: the model's length)
        sliding by `stride` (default: `window`, disjoint); the windows of all texts are scored together, so
        short texts fill batches."""
        size = window or self.max_length
        windows = [
            (index, scored)
            for index, tokens in enumerate(texts)
            for scored in strided_windows(tokens, self.prefix_token_id, size, stride or size)
        ]
        totals = [0.0] * len(texts)
        for (index, _), scored in zip(windows, self.scorer.score([w for _, w in windows]), strict=True):
            totals[index] += scored.logprob
        return totals

    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        outputs: list[str] = []
        batch = self.scorer.batch_size
        for start in range(0, len(requests), batch):
            chunk = requests[start : start + batch]
            outputs.extend(self._generate([r.args[0] for r in chunk], [r.args[1] for r in chunk]))
        return outputs

    def _generate(self, contexts: list[str], settings: list[dict[str, Any]]) -> list[str]:
        prompts = [[self.prefix_token_id, *self.tok_encode(c)] for c in contexts]
        stops = [_as_list(s.get("until")) for s in settings]
        budget = [int(s.get("max_gen_toks", DEFAULT_MAX_GEN_TOKS)) for s in settings]
        generated: list[list[int]] = [[] for _ in contexts]
        active = set(range(len(contexts)))
        while active:
            order = sorted(active)
            for i, token in zip(
                order, self.scorer.next_tokens([prompts[i] + generated[i] for i in order]), strict=True
            ):
                generated[i].append(token)
                text = self.tok_decode(generated[i])
                if token == self.eot_token_id or len(generated[i]) >= budget[i] or any(s in text for s in stops[i]):
                    active.discard(i)
        return [
            _cut(self.tok_decode([t for t in g if t != self.eot_token_id]), s)
            for g, s in zip(generated, stops, strict=True)
        ]


def _as_list(until: Any) -> list[str]:
    if until is None:
        return []
    return [until] if isinstance(until, str) else list(until)


def _cut(text: str, stops: list[str]) -> str:
    """The text up to the first stop sequence (lm-eval's contract for generate_until)."""
    for stop in stops:
        if stop and stop in text:
            text = text.split(stop)[0]
    return text
