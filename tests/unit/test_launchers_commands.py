"""What the launchers would submit: the `sbatch` call and batch script, the XPK workload command and manifest,
the multi-host hand-over of the trainer; and `launcher = "xpk"` refused before anything runs when XPK is not
set up here."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from lmspec.compiler.hardware import resolve_slice
from lmspec.outputs.lifecycle import JOB_FILE
from lmspec.runtime.launchers.base import TRAINER_FILE, Job
from lmspec.runtime.launchers.hosts import (
    HOSTS_ENV,
    RANK_ENV,
    coordinator_env,
    host_flags,
    host_rank,
    share_trainer,
    trainer_shared,
)
from lmspec.runtime.launchers.slurm import batch_script, sbatch_command
from lmspec.runtime.launchers.xpk import NAME_LIMIT, workload_command, workload_name
from lmspec.schemas.base import SlurmOptions, XpkOptions
from tests.conftest import REPO

ATTEMPT = "/shared/runs/model_big-0123456789ab.tmp-f00dfeedcafe"


def _job(hosts: int = 1, name: str = "model_big") -> Job:
    return Job(
        name=name,
        kind="train",
        config={},
        inputs={"tokens": "/shared/runs/tokens-aaaaaaaaaaaa"},
        input_kinds={"tokens": "tokens"},
        hash="0123456789ab",
        output_path="/shared/runs/model_big-0123456789ab",
        output_dir=ATTEMPT,
        spec_dir="/shared/specs",
        resume_dir="/shared/runs/model_big-0123456789ab.resume",
        fingerprint={},
        hosts=hosts,
    )


def test_sbatch_command_carries_every_option() -> None:
    options = SlurmOptions(
        partition="gpu",
        account="lab",
        time_limit="4:00:00",
        nodes=2,
        tasks_per_node=1,
        gpus_per_node=8,
        cpus_per_task=16,
        sbatch_flags=["--exclusive", "--qos=high"],
    )
    assert sbatch_command(_job(2), options) == [
        "sbatch",
        "--parsable",
        "--job-name=lmspec-model_big-0123456789ab",
        f"--output={ATTEMPT}/lmspec-step.log",
        "--open-mode=append",
        "--nodes=2",
        "--ntasks-per-node=1",
        "--partition=gpu",
        "--account=lab",
        "--time=4:00:00",
        "--gpus-per-node=8",
        "--cpus-per-task=16",
        "--exclusive",
        "--qos=high",
    ]


def test_batch_script_starts_one_job_process_per_node() -> None:
    entry = f"/venv/bin/python -m lmspec.runtime.launchers.job {ATTEMPT}/{JOB_FILE}"
    assert batch_script(_job(1), "/venv/bin/python") == f"#!/bin/bash\nset -e\nexec {entry}\n"
    multi = batch_script(_job(4), "/venv/bin/python")
    assert f"exec srun --nodes=4 --ntasks=4 --ntasks-per-node=1 --kill-on-bad-exit=1 {entry}\n" in multi


def test_xpk_workload_command_and_manifest(tmp_path: Path) -> None:
    options = XpkOptions(cluster="pod", docker_image="gcr.io/p/lmspec:1", project="p", zone="us-west4-a")
    hardware = resolve_slice({"accelerator": "tpu", "type": "v5litepod-64"})
    job = _job(hardware.hosts)
    name = workload_name(job)
    assert name == "lmspec-model-big-0123456789ab-f00dfe"
    expected = [
        "xpk",
        "workload",
        "create",
        f"--workload={name}",
        "--cluster=pod",
        "--project=p",
        "--zone=us-west4-a",
        "--docker-image=gcr.io/p/lmspec:1",
        "--tpu-type=v5litepod-64",
        "--num-slices=1",
        f"--command=python3 -m lmspec.runtime.launchers.job {ATTEMPT}/{JOB_FILE}",
    ]
    assert workload_command(job, options, hardware) == expected
    # What every host of the workload reads: the job description `--command` names, written before submitting.
    written = replace(job, output_dir=str(tmp_path))
    manifest = Job.read(written.write())
    assert manifest == written
    assert manifest.hosts == 8  # 64 v5e chips, 8 per host: one job process on each
    assert (manifest.name, manifest.kind, manifest.hash) == ("model_big", "train", "0123456789ab")


def test_xpk_names_gpu_hosts_and_keeps_names_short() -> None:
    options = XpkOptions(cluster="gpus", docker_image="img")
    hardware = resolve_slice({"accelerator": "gpu", "type": "h100", "topology": "16"})
    job = _job(hardware.hosts, name="a_very_long_step_name_that_goes_on_and_on")
    command = workload_command(job, options, hardware)
    assert "--device-type=h100-80gb-8" in command
    assert not any(flag.startswith(("--project", "--zone")) for flag in command)  # gcloud's configured ones
    assert len(workload_name(job)) <= NAME_LIMIT
    assert workload_name(job).endswith("-0123456789ab-f00dfe")


def test_host_rank_reads_each_schedulers_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (RANK_ENV, "SLURM_PROCID", "TPU_WORKER_ID", "JOB_COMPLETION_INDEX"):
        monkeypatch.delenv(name, raising=False)
    assert host_rank() == 0
    monkeypatch.setenv("JOB_COMPLETION_INDEX", "3")
    assert host_rank() == 3
    monkeypatch.setenv("SLURM_PROCID", "1")
    assert host_rank() == 1
    monkeypatch.setenv(RANK_ENV, "2")
    assert host_rank() == 2


def test_ray_hosts_get_maxtexts_coordinator_variables_and_hardware_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    env = coordinator_env(1, 2, "10.0.0.5", 7777)
    assert env["JAX_COORDINATOR_IP"] == "10.0.0.5"
    assert (env["JAX_COORDINATOR_PORT"], env["NNODES"], env["NODE_RANK"]) == ("7777", "2", "1")
    flags = {"hardware": "gpu_multiprocess", "steps": 10}
    assert host_flags(flags) == flags  # Slurm: JAX finds the other processes itself
    monkeypatch.setenv("LMSPEC_JAX_INIT", env["LMSPEC_JAX_INIT"])
    assert host_flags(flags) == {"hardware": "gpu", "steps": 10}


def test_the_first_host_shares_its_trainer_only_in_a_multi_host_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    monkeypatch.delenv("JAX_PLATFORMS", raising=False)
    monkeypatch.setenv(HOSTS_ENV, "1")
    share_trainer(["python", "-m", "maxtext"], env, tmp_path)
    assert not (tmp_path / TRAINER_FILE).exists()
    monkeypatch.setenv(HOSTS_ENV, "2")
    share_trainer(["python", "-m", "maxtext"], env, tmp_path)
    assert trainer_shared(tmp_path / TRAINER_FILE) == (["python", "-m", "maxtext"], {"JAX_PLATFORMS": "cpu"})


@pytest.mark.skipif(shutil.which("xpk") is not None, reason="xpk is installed here")
def test_run_with_xpk_not_set_up_fails_before_anything_runs(tmp_path: Path) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text(
        '[experiment]\nname = "pod"\n\n[steps.docs]\nkind = "ingest"\npaths = ["a.jsonl"]\nformat = "jsonl"\n'
        'resources = { launcher = "xpk", xpk = { cluster = "pod", docker_image = "img" } }\n'
    )
    (tmp_path / "a.jsonl").write_text('{"text": "a"}\n')
    env = dict(os.environ, PYTHONPATH=str(REPO))
    command = [sys.executable, "-m", "lmspec.cli", "run", str(spec), "--root", str(tmp_path / "runs")]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode != 0
    said = done.stdout + done.stderr
    assert 'docs (launcher = "xpk": xpk not installed' in said
    assert "--set steps.STEP.resources.launcher=local" in said
    assert "Traceback" not in said
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").glob("docs-*"))


def test_compile_shows_the_pods_xpk_command_with_its_named_cluster() -> None:
    """`compile` prints the XPK command of a multi-host step with the cluster and image its spec names."""
    from lmspec.compiler import compile_spec
    from lmspec.compiler.estimates import train_estimates
    from lmspec.compiler.hardware import ACCELERATORS

    plan = compile_spec(REPO / "specs" / "llama-1b-tpu-pod.toml", "/runs")
    launch = train_estimates(plan, ACCELERATORS)["model"].launch
    assert launch is not None
    assert "--cluster=my-v5e-cluster --docker-image=us-docker.pkg.dev/my-project/lmspec/lmspec:latest" in launch
    assert "$CLUSTER" not in launch
