"""lm-eval inside an evaluate step: tasks with their own shots, data from local disk, per-item scores.

Every task is built before the model loads, with its data: a misspelled task, or a Hub task on a machine
that cannot reach the Hub, fails in seconds and says what to do. A task reads local data instead of the Hub
when it has a `data_dir` or a copy under `$LMSPEC_EVAL_DATA/<dataset>` (lmspec.compiler.eval_data): its
`dataset_path` is pointed there (and its `dataset_name` dropped for a `save_to_disk` folder, which holds one
configuration). Shots are set per task, under lm-eval's own rule that a task configured for 0 shots
stays at 0. lm-eval's per-example scores are kept as items, so `lmspec report` can pair two models'
answers; metrics are named `<task>/<metric>`, with `:<filter>` when lm-eval's filter is not `none`.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmspec.compiler.eval_data import EVAL_DATA_ENV, OFFLINE_SWITCHES, hub_unavailable, local_dataset
from lmspec.outputs.metrics import STDERR_SUFFIX, ItemScores, write_items, write_lm_eval
from lmspec.runtime.evaluation.perplexity import EvaluationError
from lmspec.schemas.evaluation import KNOWN_TASKS, LOCAL_TASKS, SUITES, LmEvalConfig, TaskSpec

PACKAGED_LOADERS = ("json", "jsonl", "csv", "parquet", "arrow", "text", "pandas")
"""`datasets` loaders that read local files: a task whose dataset_path is one of these needs no Hub."""
SAVED_MARKERS = ("dataset_dict.json", "state.json")
"""Files `save_to_disk` writes: such a folder is one configuration of a dataset."""
LM_EVAL_KEYS = ("results", "groups", "group_subtasks", "n-shot", "versions", "higher_is_better")
"""What lm_eval.json keeps of lm-eval's output: all but its per-example logs (kept as items) and its config."""
NETWORK_HINTS = ("offline", "connection", "resolve", "name resolution", "couldn't reach", "max retries", "timed out")


@dataclass(frozen=True)
class PlannedTask:
    """One `tasks` entry, resolved: its shots, where its data comes from, whether that needs the Hub."""

    entry: TaskSpec
    shots: int
    overrides: dict[str, Any] = field(default_factory=dict)
    remote: bool = False


@dataclass(frozen=True)
class PreparedTasks:
    """lm-eval's task index and the built tasks (Task, Group or a tag's task list), in `tasks` order."""

    manager: Any
    built: list[Any]


def prepare(config: LmEvalConfig, include: list[str], resolve: Callable[[str], Path]) -> PreparedTasks:
    """Index, plan and build every task (data loaded), or raise EvaluationError before any model is loaded."""
    manager = task_manager(config.task_names, include)
    planned = [plan_task(manager, entry, config.shots(entry), resolve) for entry in config.entries()]
    remote = [p.entry.name for p in planned if p.remote]
    if remote and (reason := hub_unavailable()):
        raise EvaluationError(_offline_message(remote, reason))
    return PreparedTasks(manager, [build(manager, p) for p in planned])


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


def plan_task(manager: Any, entry: TaskSpec, shots: int, resolve: Callable[[str], Path]) -> PlannedTask:
    """Where a task's data comes from: its local copy if it has one, else its dataset (the Hub, unless the
    task reads local files itself); `resolve` turns a spec-relative `data_dir` into a path."""
    dataset, config_name = _source(manager, entry.name)
    hub = dataset is not None and dataset not in PACKAGED_LOADERS and not os.path.exists(dataset)
    folder = local_dataset(resolve(entry.data_dir) if entry.data_dir else None, dataset if hub else None)
    if folder is not None:
        if not folder.is_dir():
            raise EvaluationError(f"task `{entry.name}`: data_dir {folder} is not a directory")
        return PlannedTask(entry, shots, _local_overrides(folder, config_name))
    return PlannedTask(entry, shots, remote=hub)


def _source(manager: Any, task: str) -> tuple[str | None, str | None]:
    """The Hub dataset (and configuration) a task loads, from its YAML; a group's from KNOWN_TASKS."""
    from lm_eval.tasks._yaml_loader import load_yaml  # lm-eval 0.4's YAML reader (resolves `include:`)

    index_entry = manager.task_index.get(task)
    if index_entry is not None and index_entry.yaml_path and "task" in (config := load_yaml(index_entry.yaml_path)):
        return config.get("dataset_path"), config.get("dataset_name")
    return (KNOWN_TASKS[task].dataset, None) if task in KNOWN_TASKS else (None, None)


def _local_overrides(folder: Path, config_name: str | None) -> dict[str, Any]:
    """Point a task at a local dataset folder: a repository copy keeps its configuration name; a
    `save_to_disk` folder (the folder itself, or its subfolder named after the configuration) has none."""
    for candidate in ([folder / config_name] if config_name else []) + [folder]:
        if any((candidate / marker).is_file() for marker in SAVED_MARKERS):
            return {"dataset_path": str(candidate), "dataset_name": None}
    return {"dataset_path": str(folder)}


def build(manager: Any, planned: PlannedTask) -> Any:
    """The task (or group) with its data loaded and its shots set."""
    entry = manager.task_index[planned.entry.name]
    try:
        # TaskManager.load takes no overrides for a registered task; its factory does (lm-eval 0.4).
        built = manager._factory.build(entry, overrides=planned.overrides or None, registry=manager.task_index)
    except Exception as exc:
        raise _load_error(planned.entry.name, exc) from None
    for task in _leaves(built):
        if task.get_config("num_fewshot") != 0:  # lm-eval's rule: a task set to 0 shots keeps 0
            task.set_config(key="num_fewshot", value=planned.shots)
    return built


def _leaves(built: Any) -> list[Any]:
    """The tasks of what `build` made: a tag's list, a group's tasks, or the task itself."""
    if isinstance(built, list):
        return built
    return list(built.get_all_tasks()) if hasattr(built, "get_all_tasks") else [built]


def _load_error(task: str, exc: Exception) -> Exception:
    """A failure to reach the Hub becomes a message naming the task and the ways to run it offline."""
    offline = any(os.environ.get(name, "0").lower() in ("1", "true") for name in OFFLINE_SWITCHES)
    if not (offline or any(hint in str(exc).lower() for hint in NETWORK_HINTS)):
        return exc
    reason = "offline mode is on" if offline else "the Hub cannot be reached"
    return EvaluationError(_offline_message([task], f"{reason} ({str(exc).splitlines()[0][:200]})"))


def _offline_message(tasks: list[str], reason: str) -> str:
    return (
        f"lm-eval task(s) {', '.join(tasks)} download their data from the Hugging Face Hub, and {reason}; "
        f"copy each dataset to ${EVAL_DATA_ENV}/<dataset> (a copy of its Hub repository, or save_to_disk folders) "
        f"or give the task a data_dir, run where the Hub is reachable, or use the offline tasks "
        f"({', '.join(LOCAL_TASKS)}) or your own task YAMLs via include_path"
    )


def run(model: Any, config: LmEvalConfig, prepared: PreparedTasks, output_dir: Path) -> dict[str, float]:
    """Evaluate the prepared tasks; write lm-eval's results and per-item scores; return lmspec's metrics."""
    import lm_eval

    output = lm_eval.simple_evaluate(
        model=model,
        tasks=prepared.built,
        num_fewshot=None,  # set per task by `build`
        limit=config.limit,
        task_manager=prepared.manager,
        random_seed=0,
        numpy_random_seed=0,
        fewshot_random_seed=0,
        log_samples=True,
    )
    write_lm_eval(output_dir, {key: output[key] for key in LM_EVAL_KEYS if key in output})
    for name, items in task_items(output["samples"], output.get("group_subtasks", {})).items():
        write_items(output_dir, name, items.items())
    metrics = task_metrics(output["results"])
    metrics.update(suite_average(config.suite, metrics))
    return metrics


def metric_name(key: str) -> str | None:
    """lm-eval's `acc,none` -> `acc`, `exact_match,strict-match` -> `exact_match:strict-match`, and the
    stderr of either -> the same name + `_stderr`; None for keys that are no metric (`alias`)."""
    name, _, filter_name = key.partition(",")
    if not filter_name:
        return None
    if filter_name == "none":
        return name
    base = name.removesuffix(STDERR_SUFFIX)
    return f"{base}:{filter_name}" + (STDERR_SUFFIX if base != name else "")


def task_metrics(results: dict[str, dict[str, Any]]) -> dict[str, float]:
    """lm-eval's `{"task": {"acc,none": v, "acc_stderr,none": s}}` -> `{"task/acc": v, "task/acc_stderr": s}`."""
    return {
        f"{task}/{name}": float(value)
        for task, values in results.items()
        for key, value in values.items()
        if (name := metric_name(key)) and isinstance(value, int | float) and not isinstance(value, bool)
    }


def task_items(samples: dict[str, list[dict[str, Any]]], groups: dict[str, list[str]]) -> dict[str, ItemScores]:
    """Per-example scores of every task (`doc_id` -> metric -> value) and of every group (its tasks'
    examples, ids prefixed by the task)."""
    items: dict[str, ItemScores] = {}
    for task, examples in samples.items():
        scores = items.setdefault(task, {})
        for example in examples:  # one per example and lm-eval filter
            scores.setdefault(str(example["doc_id"]), {}).update(_example_scores(**example))
    for group in groups:
        leaves = _group_tasks(group, groups)
        items[group] = {f"{t}/{i}": v for t in leaves if t in items for i, v in items[t].items()}
    return items


def _example_scores(*, metrics: list[str], filter: str, **fields: Any) -> dict[str, float]:
    """The numeric metric values of one logged lm-eval example (its fields, as keywords), named as lmspec names them."""
    named = {metric_name(f"{metric},{filter}"): fields.get(metric) for metric in metrics}
    return {name: float(value) for name, value in named.items() if name and isinstance(value, int | float)}


def _group_tasks(group: str, groups: dict[str, list[str]]) -> list[str]:
    """A group's tasks, through nested groups."""
    return [leaf for child in groups[group] for leaf in (_group_tasks(child, groups) if child in groups else [child])]


def suite_average(suite: str | None, metrics: dict[str, float]) -> dict[str, float]:
    """`<suite>/average` of the suite's reported metrics, with its stderr (the tasks are independent)."""
    if suite is None:
        return {}
    keys = [f"{t.name}/{t.metric}" for t in SUITES[suite]]
    if not all(k in metrics for k in keys):
        return {}
    stderrs = [metrics.get(k + STDERR_SUFFIX, math.nan) for k in keys]
    return {
        f"{suite}/average": sum(metrics[k] for k in keys) / len(keys),
        f"{suite}/average{STDERR_SUFFIX}": math.sqrt(sum(s * s for s in stderrs)) / len(keys),
    }
