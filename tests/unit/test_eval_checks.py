"""What `lmspec compile` says about evaluations before anything runs: tasks that need an unreachable Hub, local
task data that makes them runnable offline, and tasks too small to detect the step's `min_effect`."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from lmspec.compiler import compile_spec
from lmspec.compiler.eval_data import EVAL_DATA_ENV, evaluation_warnings, hub_unavailable
from tests.unit.test_eval_schema import HEAD


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv(EVAL_DATA_ENV, raising=False)


def _warnings(write_spec: Callable[..., Path], body: str) -> list[str]:
    return evaluation_warnings(compile_spec(write_spec(HEAD + body), "/runs"))


@pytest.mark.usefixtures("offline")
def test_a_hub_task_offline_is_named_with_where_its_data_would_go(write_spec: Callable[..., Path]) -> None:
    [warning] = _warnings(write_spec, 'perplexity = ["@tokens"]\nlm_eval = { tasks = ["lmspec_cloze", "hellaswag"] }\n')
    assert warning.startswith("steps.eval: lm-eval task `hellaswag` downloads its data from the Hugging Face Hub")
    assert "offline mode is on (HF_HUB_OFFLINE=1)" in warning
    assert f"${EVAL_DATA_ENV}/Rowan/hellaswag" in warning


@pytest.mark.usefixtures("offline")
def test_local_data_makes_a_hub_task_runnable_offline(
    write_spec: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "evaldata" / "allenai" / "ai2_arc").mkdir(parents=True)
    monkeypatch.setenv(EVAL_DATA_ENV, str(tmp_path / "evaldata"))
    assert _warnings(write_spec, 'lm_eval = { tasks = ["arc_easy", { name = "winogrande", data_dir = "w" }] }\n') == []
    [left] = _warnings(write_spec, 'lm_eval = { tasks = ["arc_easy", "gsm8k"] }\n')
    assert "`gsm8k`" in left
    assert "openai/gsm8k" in left


@pytest.mark.usefixtures("offline")
def test_own_tasks_under_include_path_are_not_taken_for_hub_tasks(write_spec: Callable[..., Path]) -> None:
    assert _warnings(write_spec, 'lm_eval = { tasks = ["my_task"], include_path = "tasks" }\n') == []
    [warning] = _warnings(write_spec, 'lm_eval = { tasks = ["my_task"] }\n')
    assert "<its dataset_path>" in warning


@pytest.mark.usefixtures("offline")
def test_min_effect_warns_about_tasks_too_small_to_detect_it(write_spec: Callable[..., Path]) -> None:
    tasks = '["arc_challenge", "mmlu", "my_task"], include_path = "t"'
    body = "lm_eval = {{ tasks = " + tasks + "{limit} }}\nmin_effect = {effect}\n"
    warnings = [w for w in _warnings(write_spec, body.format(limit="", effect=0.05)) if "min_effect" in w]
    assert warnings == [
        "steps.eval: `arc_challenge` scores 1172 items: too few to detect min_effect = 0.05 at 80% power "
        "(needs 1570; 1172 items detect 0.058)"
    ]  # mmlu's 14042 suffice; my_task's size is unknown
    limited = [w for w in _warnings(write_spec, body.format(limit=", limit = 100", effect=0.05)) if "min_effect" in w]
    assert [w.split("`")[1] for w in limited] == ["arc_challenge", "mmlu", "my_task"]
    assert not [w for w in _warnings(write_spec, body.format(limit="", effect=0.1)) if "min_effect" in w]


def test_hub_reachability_is_probed_at_the_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        closed = server.getsockname()[1]
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed}")
        assert hub_unavailable() is None
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed}")
    reason = hub_unavailable()
    assert reason is not None
    assert reason.startswith(f"the Hub (127.0.0.1:{closed}) cannot be reached")
