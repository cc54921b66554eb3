"""Evaluation of a trained model: bits-per-byte on held-out data and lm-eval tasks.

Hash stability: the older forms (`perplexity = ["@tokens"]`, `tasks = ["name"]`) validate to exactly the
values they always did, so their steps keep their hashes; the table forms are new values in the same
lists. A `suite` expands into `tasks` before validation, so the hash covers the tasks and shots it stands
for (and a suite written out task by task hashes the same); the suite's name itself is not hashed.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, NamedTuple

from pydantic import Field, StringConstraints, model_validator

from lmspec.schemas.base import (
    ModelRef,
    OutputKind,
    Problems,
    RawInput,
    SpecModel,
    StepBase,
    TokensRef,
    added_later,
    execution_only,
    ref_name,
)
from lmspec.schemas.chat_eval import ChatEvaluation
from lmspec.schemas.kinds import step_kind

LOCAL_TASKS = ("lmspec_cloze",)
"""Offline tasks lmspec ships, built at run time from the held-out split of the first `perplexity` step:
`lmspec_cloze` picks each held-out document's true continuation among ones cut from other documents."""


class SuiteTask(NamedTuple):
    """One task of a named suite: its shots and the metric the suite reports it by."""

    name: str
    num_fewshot: int
    metric: str
    """As lmspec names lm-eval's metrics: `acc`, `acc_norm`, `exact_match:strict-match` (metric:filter)."""


SUITES: dict[str, tuple[SuiteTask, ...]] = {
    "open_llm_v1": (
        SuiteTask("arc_challenge", 25, "acc_norm"),
        SuiteTask("truthfulqa_mc2", 0, "acc"),
        SuiteTask("winogrande", 5, "acc"),
        SuiteTask("hellaswag", 10, "acc_norm"),
        SuiteTask("mmlu", 5, "acc"),
        SuiteTask("gsm8k", 5, "exact_match:strict-match"),
    ),
}
"""Named task sets, as the Hugging Face Open LLM Leaderboard (v1) ran them (truthfulqa_mc2's `acc` is mc2)."""

SuiteName = Literal["open_llm_v1"]


class KnownTask(NamedTuple):
    """What lmspec knows of an lm-eval task before lm-eval is loaded: where its data comes from and how many
    items it scores (for the offline and statistical-power checks of `lmspec compile`)."""

    dataset: str
    """lm-eval's `dataset_path`: a Hugging Face Hub dataset."""
    items: int
    """Items in the split lm-eval scores."""


KNOWN_TASKS: dict[str, KnownTask] = {
    "arc_challenge": KnownTask("allenai/ai2_arc", 1172),
    "arc_easy": KnownTask("allenai/ai2_arc", 2376),
    "truthfulqa_mc2": KnownTask("truthfulqa/truthful_qa", 817),
    "winogrande": KnownTask("allenai/winogrande", 1267),
    "hellaswag": KnownTask("Rowan/hellaswag", 10042),
    "mmlu": KnownTask("cais/mmlu", 14042),
    "gsm8k": KnownTask("openai/gsm8k", 1319),
}


class TaskSpec(SpecModel):
    """One lm-eval task with its own settings. A plain string in `tasks` is a task with the table's settings."""

    name: str = Field(min_length=1)
    """The task (or group) name, as lm-eval lists it."""
    num_fewshot: int | None = Field(default=None, ge=0, le=64)
    """Few-shot examples for this task; None takes the table's `num_fewshot`."""
    data_dir: Annotated[str, RawInput()] | None = None
    """The task's dataset on local disk (relative to the spec file), read instead of the Hugging Face Hub: a
    copy of the Hub dataset's repository, or a `DatasetDict.save_to_disk` folder. Its content is hashed."""


class LmEvalConfig(SpecModel):
    """Tasks run by EleutherAI's lm-evaluation-harness against the trained checkpoint."""

    suite: SuiteName | None = execution_only(default=None)
    """A named set of tasks with their shots, added to `tasks` (an entry in `tasks` for the same task wins):
    `open_llm_v1` = arc_challenge@25, truthfulqa_mc2@0, winogrande@5, hellaswag@10, mmlu@5, gsm8k@5. Not hashed
    itself: the tasks it stands for are."""
    tasks: list[Annotated[str, StringConstraints(min_length=1)] | TaskSpec] = Field(default_factory=list)
    """Task names or `{ name, num_fewshot, data_dir }` tables: lmspec's offline `lmspec_cloze`, lm-eval's
    bundled ones (from the Hugging Face Hub, or local data: `data_dir` or `$LMSPEC_EVAL_DATA/<dataset>`), or
    your own under `include_path`."""
    num_fewshot: int = Field(default=0, ge=0, le=64)
    """Few-shot examples per prompt, for tasks that do not set their own."""
    limit: int | None = Field(default=None, ge=1)
    """Evaluate at most this many examples per task; None runs them all."""
    include_path: Annotated[str, RawInput()] | None = None
    """A directory of local task YAMLs (relative to the spec file), for offline or custom tasks."""
    batch_size: int = execution_only(default=8, ge=1)
    """Requests per forward pass; execution-only."""

    @model_validator(mode="before")
    @classmethod
    def _expand_suite(cls, data: Any) -> Any:
        """Append the suite's tasks not listed already; a misspelled suite is left for its field's error."""
        if not isinstance(data, dict) or data.get("suite") not in SUITES or not isinstance(data.get("tasks", []), list):
            return data
        listed = {_entry_name(entry) for entry in data.get("tasks", [])}
        extra = [{"name": t.name, "num_fewshot": t.num_fewshot} for t in SUITES[data["suite"]] if t.name not in listed]
        return {**data, "tasks": [*data.get("tasks", []), *extra]}

    def entries(self) -> list[TaskSpec]:
        """Every task as a table, plain names with the table's settings."""
        return [TaskSpec(name=t) if isinstance(t, str) else t for t in self.tasks]

    def shots(self, entry: TaskSpec) -> int:
        return self.num_fewshot if entry.num_fewshot is None else entry.num_fewshot

    @property
    def task_names(self) -> list[str]:
        return [entry.name for entry in self.entries()]

    def cross_field_errors(self) -> Problems:
        if not self.tasks:
            return [(("tasks",), "name at least one task, or a `suite`")]
        seen: set[str] = set()
        problems: Problems = []
        for i, name in enumerate(self.task_names):
            if name in seen:
                problems.append((("tasks", i), f"`{name}` is listed twice: keep one entry"))
            seen.add(name)
        return problems


def _entry_name(entry: Any) -> Any:
    return entry.get("name") if isinstance(entry, dict) else entry


class PerplexitySet(SpecModel):
    """A tokenize step's validation split, scored in sliding windows (the standard strided-perplexity recipe)."""

    data: TokensRef
    """The tokenize step whose validation split is scored."""
    window: int | None = Field(default=None, ge=2, le=131_072)
    """Tokens the model reads per forward pass; None: the model's seq_len. At most the model's seq_len."""
    stride: int | None = Field(default=None, ge=1, le=131_072)
    """Tokens newly scored per window, each predicted from at least `window - stride` tokens before it (the
    first window's excepted); None: `window`, disjoint windows. Smaller is more context and more compute."""

    @property
    def name(self) -> str:
        """How its metrics are named: `tokens`, or `tokens_w1024_s512` with a window or stride."""
        window = f"_w{self.window}" if self.window is not None else ""
        stride = f"_s{self.stride}" if self.stride is not None else ""
        return f"{ref_name(self.data)}{window}{stride}"

    def cross_field_errors(self) -> Problems:
        if self.stride is not None and self.window is not None and self.stride > self.window:
            return [(("stride",), f"must be at most window ({self.window}), got {self.stride}")]
        return []


@step_kind(executor="lmspec.runtime.evaluation.evaluate")
class Evaluate(StepBase):
    """Score a trained model: bits-per-byte on tokenized validation splits and lm-eval tasks."""

    kind: Literal["evaluate"]
    output: ClassVar[OutputKind] = "metrics"

    model: ModelRef
    """The train step to evaluate."""
    perplexity: list[TokensRef | PerplexitySet] = Field(default_factory=list)
    """Tokenize steps whose validation split is scored (bits-per-byte and perplexity, each with a bootstrap
    stderr): `"@tokens"` in disjoint windows of the model's length, or `{ data, window, stride }`."""
    lm_eval: LmEvalConfig | None = None
    """lm-eval tasks; None skips lm-eval."""
    chat: ChatEvaluation | None = added_later(default=None)
    """Chat measures for post-trained models: answers generated through the chat template, held-out preference
    accuracy (`lmspec.schemas.chat_eval`); None skips them."""
    min_effect: float | None = execution_only(default=None, gt=0.0, lt=1.0)
    """The smallest accuracy difference between variants this evaluation should detect (e.g. 0.02):
    `lmspec compile` warns when a task has too few items for it at 80% power. Not hashed: it changes no output."""

    def perplexity_sets(self) -> list[PerplexitySet]:
        """Every perplexity entry as a table (a plain reference: the model's length, disjoint windows)."""
        return [PerplexitySet(data=p) if isinstance(p, str) else p for p in self.perplexity]

    def cross_field_errors(self) -> Problems:
        if not self.perplexity and self.lm_eval is None and self.chat is None:
            needs = "needs `perplexity` data, `lm_eval` tasks, or both (or `chat` sets)"
            return [(("perplexity",), f"an evaluate step {needs}")]
        problems = _duplicate_sets(self.perplexity_sets())
        if self.lm_eval and not self.perplexity:
            fix = "is built from held-out documents: name a tokenize step in `perplexity`"
            problems += [
                (("lm_eval", "tasks", i), f"`{name}` {fix}")
                for i, name in enumerate(self.lm_eval.task_names)
                if name in LOCAL_TASKS
            ]
        return problems


def _duplicate_sets(sets: list[PerplexitySet]) -> Problems:
    """Two entries that would write the same metrics."""
    seen: set[str] = set()
    problems: Problems = []
    for i, entry in enumerate(sets):
        if entry.name in seen:
            problems.append((("perplexity", i), f"`{entry.name}` is scored twice: keep one entry"))
        seen.add(entry.name)
    return problems
