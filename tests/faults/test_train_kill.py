"""A train step killed after MaxText wrote its final checkpoint but before lmspec published it (issue 12.2).

The checkpoint of the last step is committed in `<out>.resume`; a re-run must publish that finished run, not
ask MaxText to train to a step it has already reached (MaxText then refuses: "a checkpoint already exists at
step N-1 ... set steps > N", and only `--force` recovered, training again from scratch)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from examples.quickstart_data import english_paragraphs, write_jsonl
from lmspec.catalog import Catalog, default_catalog_url
from lmspec.compiler import compile_spec
from lmspec.compiler.maxtext import RUN_NAME
from lmspec.outputs.lifecycle import resume_dir
from lmspec.outputs.model import ModelCheckpoint, last_checkpoint
from tests.conftest import REPO
from tests.faults.conftest import FAULTS, leftovers
from tests.support.specs import tiny_train, tokenized

STEPS = 10

SPEC = tokenized("train-kill") + tiny_train(STEPS)

pytestmark = [
    *FAULTS,
    pytest.mark.slow,
]


def _run(spec: Path, root: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("CI", None)
    command = [sys.executable, "-m", "lmspec.cli", "run", str(spec), "--root", str(root), "--quiet"]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )


def _finished(process: subprocess.Popen[str]) -> str:
    output = process.communicate(timeout=900)[0]
    assert process.returncode == 0, output
    return output


def _losses(root: Path) -> list[tuple[int, float]]:
    [model] = [p for p in root.glob("model-*") if "." not in p.name]
    catalog = Catalog(default_catalog_url(str(root))).open(create=False)
    return catalog.series(str(model))["loss"]


def test_a_train_step_killed_after_its_final_checkpoint_publishes_it_on_rerun(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "data" / "manual.jsonl", english_paragraphs())
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    _finished(_run(spec, tmp_path / "clean"))

    killed_root = tmp_path / "killed"
    output = Path(compile_spec(spec, str(killed_root)).step("model").output_path)
    victim = _run(spec, killed_root)
    deadline = time.time() + 900
    while last_checkpoint(resume_dir(output) / RUN_NAME) != STEPS - 1:
        assert victim.poll() is None, "the run ended before its final checkpoint was seen"
        assert time.time() < deadline, "no final checkpoint"
        time.sleep(0.02)
    os.killpg(victim.pid, signal.SIGKILL)  # lmspec and, through PDEATHSIG, MaxText
    victim.communicate()
    assert last_checkpoint(resume_dir(output) / RUN_NAME) == STEPS - 1, "the kill came too late: already published"

    rerun = _finished(_run(spec, killed_root))
    assert "4 steps: 3 cached, 1 done" in rerun
    model = ModelCheckpoint(output)
    assert model.info().final_step == STEPS - 1
    assert [step for step, _ in _losses(killed_root)] == list(range(STEPS))
    worst = max(abs(a - b) for (_, a), (_, b) in zip(_losses(killed_root), _losses(tmp_path / "clean"), strict=True))
    assert worst < 1e-3, f"the published run's losses differ from a clean run's by up to {worst}"
    assert leftovers(killed_root) == []
