"""`resources.launcher`: validated like any field, never in a hash, and the job description and result a job
exchanges with `lmspec run` survive their JSON round trip."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from lmspec.compiler import compile_spec
from lmspec.compiler.render import plan_dict
from lmspec.outputs.status import plan_statuses
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.launchers import preflight_problems
from lmspec.runtime.launchers.base import RESULT_FILE, Job, LaunchError, _result, write_result
from tests.conftest import REPO, diagnostics_of
from tests.support.specs import tokenized

SPEC = (
    tokenized("launch", paths="a.jsonl")
    + """
[steps.model]
kind = "train"
data = "@tokens"
model = { preset = "tiny" }
steps = 10
batch_size = 8
"""
)

ON_CLUSTERS = {
    "docs": 'resources = { launcher = "ray", ray = { address = "head:6379", num_cpus = 2, hosts = 1 } }',
    "tok": 'resources = { launcher = "slurm", slurm = { partition = "cpu", time_limit = "1:00:00" } }',
    "model": (
        'resources = { accelerator = "tpu", type = "v5litepod-16", launcher = "xpk", '
        'xpk = { cluster = "pod", docker_image = "gcr.io/p/lmspec:1", zone = "us-west4-a" } }'
    ),
}


def _with_launchers(text: str) -> str:
    for step, line in ON_CLUSTERS.items():
        text = text.replace(f"[steps.{step}]\n", f"[steps.{step}]\n{line}\n")
    return text


def _plan(write_spec: Callable[..., Path], text: str) -> dict[str, tuple[str, dict[str, object]]]:
    plan = compile_spec(write_spec(text), "/runs")
    return {step.name: (step.hash, step.config.model_dump(mode="json")) for step in plan.steps}


def test_launchers_change_no_hash(write_spec: Callable[..., Path]) -> None:
    local = _plan(write_spec, SPEC)
    clustered = _plan(write_spec, _with_launchers(SPEC))
    assert {name: digest for name, (digest, _) in clustered.items()} == {n: d for n, (d, _) in local.items()}
    assert clustered["tok"][1]["resources"]["launcher"] == "slurm"  # type: ignore[index]


def test_a_spec_without_launchers_dumps_what_it_dumped_before(write_spec: Callable[..., Path]) -> None:
    """Plans, step records and golden files show no launcher field unless the spec sets one."""
    for _, config in _plan(write_spec, SPEC).values():
        assert set(config["resources"]) == {"accelerator", "type", "topology", "memory"}  # type: ignore[arg-type]
    golden = REPO / "tests" / "golden" / "quickstart.toml"
    compiled = compile_spec(golden, "/runs")
    assert "launcher" not in json.dumps(plan_dict(compiled, plan_statuses(compiled)))


@pytest.mark.parametrize(
    ("resources", "field", "message"),
    [
        (
            'resources = { launcher = "slurm", slurm = { sbatch_flags = ["--qos=high", "--wrap=touch /tmp/x"] } }',
            "steps.docs.resources.slurm.sbatch_flags[1]",
            "`--wrap=touch /tmp/x` is not a flag lmspec passes to sbatch",
        ),
        (
            'resources = { launcher = "slurm", slurm = { sbatch_flags = ["evil.sh"] } }',
            "steps.docs.resources.slurm.sbatch_flags[0]",
            "`evil.sh` is not a flag",
        ),
        (
            'resources = { launcher = "xpk" }',
            "steps.docs.resources.xpk",
            'launcher = "xpk" needs `xpk = { cluster = "...", docker_image = "..." }`',
        ),
        ('resources = { launcher = "kubernetes" }', "steps.docs.resources.launcher", "kubernetes"),
        (
            'resources = { launcher = "slurm", slurm = { time_limit = "soon" } }',
            "steps.docs.resources.slurm.time_limit",
            "soon",
        ),
    ],
)
def test_bad_launcher_settings_are_reported_at_their_field(
    write_spec: Callable[..., Path], resources: str, field: str, message: str
) -> None:
    spec = write_spec(SPEC.replace("[steps.docs]\n", f"[steps.docs]\n{resources}\n"))
    [found] = diagnostics_of(spec)
    assert (found.line, found.field) == (5, field)
    assert message in found.message


def test_the_job_rebuilds_every_kind_of_step(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    """What the job process validates again is the step `lmspec run` planned, for each kind."""
    plan = compile_spec(write_spec(_with_launchers(SPEC)), str(tmp_path / "runs"))
    for step in plan.steps:
        attempt = tmp_path / f"{step.name}.tmp-abc"
        attempt.mkdir()
        context = StepContext(
            step=step,
            spec=step.config,
            input_kinds={name: plan.step(name).config.output for name in step.inputs},
            inputs={name: Path(plan.step(name).output_path) for name in step.inputs},
            output_dir=attempt,
            spec_dir=tmp_path,
            log=logging.getLogger("test"),
            resume_dir=tmp_path / f"{step.name}.resume",
        )
        rebuilt = Job.read(Job.of(context, hosts=2).write())
        assert rebuilt.hosts == 2
        again = rebuilt.step_plan()
        assert (again.config, again.inputs, again.hash, again.output_path) == (
            step.config,
            step.inputs,
            step.hash,
            step.output_path,
        )


def test_a_result_comes_back_whole_and_leaves_no_exchange_file(tmp_path: Path) -> None:
    sent = StepResult(counts={"documents": 3}, metrics={"loss": 1.5}, series={"loss": [(0, 2.0), (1, 1.5)]})
    write_result(tmp_path, sent, None)
    assert _result(tmp_path, "job 1 ended") == sent
    assert list(tmp_path.iterdir()) == []


def test_a_failed_job_raises_its_own_error(tmp_path: Path) -> None:
    write_result(tmp_path, None, "a.jsonl line 3: not JSON")
    with pytest.raises(LaunchError, match=r"^job 1 ended: a\.jsonl line 3: not JSON$"):
        _result(tmp_path, "job 1 ended")
    assert not (tmp_path / RESULT_FILE).exists()


def test_a_job_without_result_says_so(tmp_path: Path) -> None:
    with pytest.raises(LaunchError, match=r"Slurm job 7 ended \(CANCELLED\) without a result"):
        _result(tmp_path, "Slurm job 7 ended (CANCELLED)")


def test_a_job_must_span_the_hosts_its_step_runs_on(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    """One host for a data step, the slice's hosts for a training step: other counts are refused before a run."""
    ray = 'resources = { launcher = "ray", ray = { hosts = 3 } }'
    two_hosts = (
        'resources = { launcher = "ray", accelerator = "gpu", type = "h100", topology = "16", ray = { hosts = 1 } }'
    )
    text = SPEC.replace("[steps.docs]\n", f"[steps.docs]\n{ray}\n").replace(
        "[steps.model]\n", f"[steps.model]\n{two_hosts}\n"
    )
    plan = compile_spec(write_spec(text), str(tmp_path / "runs"))
    assert preflight_problems(list(plan.steps)) == [
        "docs (ray.hosts = 3, but the step runs on 1 host: set ray.hosts = 1)",
        "model (ray.hosts = 1, but the step runs on 2 hosts: set ray.hosts = 2)",
    ]
    right = text.replace("hosts = 3", "hosts = 1").replace(
        'topology = "16", ray = { hosts = 1 }', 'topology = "16", ray = { hosts = 2 }'
    )
    assert preflight_problems(list(compile_spec(write_spec(right), str(tmp_path / "runs")).steps)) == []
