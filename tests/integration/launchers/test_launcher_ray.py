"""`launcher = "ray"` on a real local Ray cluster (a head and two workers): data steps and a tiny train step run as
Ray tasks, and the data steps' outputs are the same files, byte for byte, as a local run's."""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

import pytest

from lmspec.outputs.lifecycle import LOG_NAME, RESULT_NAME, SUCCESS_MARKER
from lmspec.outputs.model import ModelCheckpoint
from tests.integration.launchers.conftest import Workspace

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DATA = """
[experiment]
name = "on-ray"

[steps.docs]
kind = "ingest"
paths = ["data/*.jsonl"]
format = "jsonl"
{resources}

[steps.long]
kind = "filter"
input = "@docs"
rules = [{{ kind = "gopher_quality" }}]
{resources}

[steps.unique]
kind = "dedup"
input = "@long"
method = "exact"
{resources}

[steps.tok]
kind = "train_tokenizer"
input = "@unique"
vocab_size = 1024
{resources}

[steps.tokens]
kind = "tokenize"
input = "@unique"
tokenizer = "@tok"
validation_fraction = 0.05
{resources}
"""

TRAIN = """
[steps.model]
kind = "train"
data = "@tokens"
model = {{ preset = "tiny" }}
optimizer = {{ lr = 3e-3 }}
steps = 6
batch_size = 8
checkpoint_every = 3
{resources}
"""

PER_RUN = {LOG_NAME, RESULT_NAME, SUCCESS_MARKER}
"""Files of an output that record its run (ids, times, log lines), not what the step computed."""


def _outputs(root: Path) -> dict[str, Path]:
    return {path.name: path for path in root.iterdir() if path.is_dir() and "-" in path.name and "." not in path.name}


def _differences(left: Path, right: Path) -> list[str]:
    """Files that differ, or exist on one side only, between two outputs (run records aside)."""
    names = {p.relative_to(left) for p in left.rglob("*") if p.is_file()}
    names |= {p.relative_to(right) for p in right.rglob("*") if p.is_file()}
    return sorted(
        str(name)
        for name in names
        if name.name not in PER_RUN
        and not ((left / name).is_file() and (right / name).is_file() and filecmp.cmp(left / name, right / name, False))
    )


def test_steps_run_as_ray_tasks_with_the_outputs_of_a_local_run(workspace: Workspace, ray_cluster: str) -> None:
    resources = f'resources = {{ launcher = "ray", ray = {{ address = "{ray_cluster}" }} }}'
    local = workspace.run(workspace.spec((DATA + TRAIN).format(resources=""), "local.toml"), workspace.dir / "local")
    assert local.returncode == 0, local.stdout + local.stderr

    spec = workspace.spec((DATA + TRAIN).format(resources=resources), "ray.toml")
    on_ray = workspace.run(spec, workspace.dir / "ray")
    assert on_ray.returncode == 0, on_ray.stdout + on_ray.stderr
    assert "queued   model" in on_ray.stdout

    here, there = _outputs(workspace.dir / "local"), _outputs(workspace.dir / "ray")
    assert len(here) == 6
    for name, output in here.items():
        assert "submitted as Ray task" in (there[name] / LOG_NAME).read_text()
        if not name.startswith("model-"):  # checkpoints carry their own timestamps
            assert _differences(output, there[name]) == [], f"{name} differs from the local run"
    [(name, model)] = [(name, path) for name, path in there.items() if name.startswith("model-")]
    assert ModelCheckpoint(model).info().final_step == 5
    trained = [json.loads((outputs[name] / RESULT_NAME).read_text())["series"]["loss"] for outputs in (here, there)]
    assert len(trained[0]) == 6
    assert [v for _, v in trained[0]] == pytest.approx([v for _, v in trained[1]], abs=1e-4)  # the same training
    assert not list(model.glob("lmspec-job*")), "the job's exchange files are no part of the output"
