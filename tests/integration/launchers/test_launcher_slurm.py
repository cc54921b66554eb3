"""`launcher = "slurm"` on a real single-node Slurm cluster: a tokenize and a tiny train step run as Slurm jobs;
the train job is cancelled with `scancel`, interrupted with Ctrl-C and killed with its run, and each re-run resumes
from the checkpoint. No job outlives the run that submitted it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lmspec.catalog import Catalog, default_catalog_url
from lmspec.compiler import compile_spec
from lmspec.compiler.maxtext import RUN_NAME
from lmspec.outputs.lifecycle import LOG_NAME, STARTED_FILE, failed_dir, resume_dir
from lmspec.outputs.model import ModelCheckpoint, last_checkpoint
from lmspec.runtime.launchers.base import RECORD_FILE
from tests.integration.launchers.conftest import Workspace
from tests.support.specs import tiny_train, tokenized

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STEPS = 30

SPEC = tokenized("on-slurm", tokens='resources = { launcher = "slurm", slurm = { time_limit = "10" } }') + tiny_train(
    STEPS,
    'resources = { launcher = "slurm", slurm = { time_limit = "10", sbatch_flags = ["--comment=lmspec-test"] } }',
)


def _jobs() -> list[str]:
    """The ids of this test's Slurm jobs that have not ended."""
    found = subprocess.run(["squeue", "--noheader", "--format=%i %k"], capture_output=True, text=True, check=True)
    return [line.split()[0] for line in found.stdout.splitlines() if line.endswith("lmspec-test")]


def _until(condition: Callable[[], object], what: str, run: subprocess.Popen[str] | None = None) -> None:
    deadline = time.time() + 300
    while not condition():
        assert run is None or run.poll() is None, f"the run ended before {what}: {run.communicate()[0]}"
        assert time.time() < deadline, f"no {what} within 300 s"
        time.sleep(0.2)


def _job_id(output: Path) -> str:
    return str(json.loads((resume_dir(output) / RECORD_FILE).read_text())["id"])


def _started(output: Path) -> bool:
    return any(output.parent.glob(f"{output.name}.tmp-*/{STARTED_FILE}"))


def test_slurm_jobs_are_cancelled_with_their_run_and_resume_from_the_checkpoint(
    workspace: Workspace, slurm: None
) -> None:
    spec, root = workspace.spec(SPEC), workspace.dir / "runs"
    model = Path(compile_spec(spec, str(root)).step("model").output_path)
    checkpoints = resume_dir(model) / RUN_NAME

    first = workspace.start(spec, root)  # scancel mid-training: the step fails, its checkpoint stays
    _until(lambda: last_checkpoint(checkpoints) is not None, "a first checkpoint", first)
    subprocess.run(["scancel", _job_id(model)], check=True)
    output = first.communicate(timeout=120)[0]
    assert first.returncode != 0
    assert "queued   tokens" in output
    assert "running  model" in output
    assert "ended (CANCELLED) without a result" in output

    second = workspace.start(spec, root)  # Ctrl-C: the run cancels its job
    _until(lambda: _jobs() and _started(model), "a running train job", second)
    os.killpg(second.pid, signal.SIGINT)
    second.communicate(timeout=120)
    assert second.returncode != 0
    assert "cancelling Slurm job" in (failed_dir(model) / LOG_NAME).read_text()
    _until(lambda: not _jobs(), "the job's end after Ctrl-C")

    third = workspace.start(spec, root)  # SIGKILL: nobody is left to cancel; the job sees its run gone and stops
    _until(lambda: _jobs() and _started(model), "a running train job", third)
    os.killpg(third.pid, signal.SIGKILL)
    third.communicate(timeout=60)
    _until(lambda: not _jobs(), "the orphaned job's end")

    last = workspace.run(spec, root)
    assert last.returncode == 0, last.stdout + last.stderr
    log = (model / LOG_NAME).read_text()
    assert "submitted as Slurm job" in log
    assert "resuming from the checkpoint at step" in log
    catalog = Catalog(default_catalog_url(str(root))).open(create=False)
    assert [step for step, _ in catalog.series(str(model))["loss"]][-1] == STEPS - 1
    assert ModelCheckpoint(model).info().final_step == STEPS - 1
    assert not list(model.glob("lmspec-job*"))
    assert not resume_dir(model).exists()
    assert _jobs() == []
