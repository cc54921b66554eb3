"""Where lm-eval tasks get their data, and whether an evaluation can tell variants apart: checked when a
plan is compiled, so an offline machine or a too-small task is known before anything runs.

Local task data: a task's `data_dir`, else `$LMSPEC_EVAL_DATA/<dataset>` where `<dataset>` is the Hugging
Face Hub dataset lm-eval would download (`allenai/ai2_arc`), holding a copy of the dataset's repository
or `save_to_disk` folders (`$LMSPEC_EVAL_DATA/allenai/ai2_arc/ARC-Challenge` for one configuration).

Statistical power: an accuracy difference `min_effect` between two variants scored on `n` items is found
with probability 80% (two-sided, alpha = 0.05) once n >= (z_0.975 + z_0.8)^2 * 2 p (1 - p) / min_effect^2,
taking p = 0.5 (the largest variance) and the two variants as independent samples. A paired test on the
same items (what `lmspec report` runs) usually needs fewer: this is the conservative bound.
"""

from __future__ import annotations

import math
import os
import socket
import threading
from pathlib import Path
from statistics import NormalDist
from urllib.parse import urlparse

from lmspec.compiler.plan import Plan
from lmspec.schemas.evaluation import KNOWN_TASKS, LOCAL_TASKS, Evaluate

EVAL_DATA_ENV = "LMSPEC_EVAL_DATA"
OFFLINE_SWITCHES = ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")
HUB_TIMEOUT_S = 3.0
POWER = 0.8
ALPHA = 0.05


def hub_unavailable() -> str | None:
    """Why the Hugging Face Hub cannot serve datasets here (offline mode, no connection), or None."""
    for name in OFFLINE_SWITCHES:
        if os.environ.get(name, "0").lower() in ("1", "true", "yes"):
            return f"offline mode is on ({name}={os.environ[name]})"
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host, port = endpoint.hostname or "huggingface.co", endpoint.port or 443
    answer = [f"no answer in {HUB_TIMEOUT_S:.0f} s"]  # a name lookup can hang past the connect timeout

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=HUB_TIMEOUT_S).close()
            answer[0] = ""
        except OSError as exc:
            answer[0] = str(exc)

    probe = threading.Thread(target=connect, daemon=True)
    probe.start()
    probe.join(HUB_TIMEOUT_S)
    return f"the Hub ({host}:{port}) cannot be reached: {answer[0]}" if answer[0] else None


def local_dataset(data_dir: Path | None, dataset: str | None) -> Path | None:
    """The local copy of a task's dataset: its `data_dir`, else `$LMSPEC_EVAL_DATA/<dataset>` if it exists."""
    if data_dir is not None:
        return data_dir
    root = os.environ.get(EVAL_DATA_ENV)
    if root and dataset and (Path(root) / dataset).is_dir():
        return Path(root) / dataset
    return None


def evaluation_warnings(plan: Plan) -> list[str]:
    """What `lmspec compile` should say about the plan's evaluate steps: tasks that will need an unreachable
    Hub, and tasks too small to detect the step's `min_effect`."""
    found: list[str] = []
    steps = [(step.name, step.config) for step in plan.steps if isinstance(step.config, Evaluate)]
    remote = [(name, task) for name, config in steps for task in _remote_tasks(config)]
    if remote and (reason := hub_unavailable()):
        for name, task in remote:
            where = KNOWN_TASKS[task].dataset if task in KNOWN_TASKS else "<its dataset_path>"
            found.append(
                f"steps.{name}: lm-eval task `{task}` downloads its data from the Hugging Face Hub and {reason}: "
                f"copy the dataset to ${EVAL_DATA_ENV}/{where} or set the task's data_dir, or the step will fail"
            )
    for name, config in steps:
        found.extend(f"steps.{name}: {line}" for line in _power_warnings(config))
    return found


def _remote_tasks(config: Evaluate) -> list[str]:
    """Tasks of a step that will download from the Hub: not lmspec's offline tasks, with no `data_dir` and no
    copy under $LMSPEC_EVAL_DATA. A task lmspec does not know is taken for a Hub task unless the step has an
    `include_path`, where it may be the user's own local task."""
    if config.lm_eval is None:
        return []
    custom = config.lm_eval.include_path is not None
    return [e.name for e in config.lm_eval.entries() if e.data_dir is None and _needs_hub(e.name, custom)]


def _needs_hub(task: str, custom_tasks: bool) -> bool:
    if task in LOCAL_TASKS:
        return False
    if task not in KNOWN_TASKS:
        return not custom_tasks
    return local_dataset(None, KNOWN_TASKS[task].dataset) is None


def required_items(effect: float, p: float = 0.5) -> int:
    """Items per variant to detect an accuracy difference `effect` at POWER (see the module docstring)."""
    return math.ceil(_z() ** 2 * 2 * p * (1 - p) / effect**2)


def detectable_effect(items: int, p: float = 0.5) -> float:
    """The smallest accuracy difference `items` items per variant detect at POWER."""
    return _z() * math.sqrt(2 * p * (1 - p) / items)


def _z() -> float:
    """z_(1 - alpha/2) + z_power: the standard normal quantiles of a two-sided test at POWER."""
    return NormalDist().inv_cdf(1 - ALPHA / 2) + NormalDist().inv_cdf(POWER)


def _power_warnings(config: Evaluate) -> list[str]:
    if config.min_effect is None or config.lm_eval is None:
        return []
    needed = required_items(config.min_effect)
    found = []
    for name in config.lm_eval.task_names:
        sizes = [n for n in (KNOWN_TASKS[name].items if name in KNOWN_TASKS else None, config.lm_eval.limit) if n]
        items = min(sizes, default=needed)
        if items < needed:
            found.append(
                f"`{name}` scores {items} items: too few to detect min_effect = {config.min_effect} at "
                f"{POWER:.0%} power (needs {needed}; {items} items detect {detectable_effect(items):.3f})"
            )
    return found
