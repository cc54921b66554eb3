"""Real schedulers for the launcher tests, started by the test session and stopped after it: a single-node Slurm
cluster (scripts/slurm-local.sh; .ci/run installs Slurm when it is missing) and a local Ray cluster, a head and
two worker nodes as separate processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from examples.quickstart_data import english_paragraphs, write_jsonl
from tests.conftest import REPO

RAY = Path(sys.executable).with_name("ray")
RAY_NODES = 3
SLURM_SCRIPT = REPO / "scripts" / "slurm-local.sh"
SLURM_MISSING = 3
"""slurm-local.sh's exit code when Slurm is not installed (outside CI, which installs it)."""


@pytest.fixture(scope="session")
def slurm() -> Iterator[None]:
    """A running single-node Slurm cluster; stopped afterwards if this session started it."""
    started = subprocess.run([SLURM_SCRIPT, "start"], capture_output=True, text=True, check=False)
    if started.returncode == SLURM_MISSING:
        pytest.skip("Slurm is not installed here: `scripts/slurm-local.sh install` (as root) installs it")
    assert started.returncode == 0, started.stderr
    yield
    if started.stdout.strip() == "started":
        subprocess.run([SLURM_SCRIPT, "stop"], check=True)


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The address of a Ray cluster of a head and two workers, one CPU each; every node stopped afterwards."""
    port = _free_port()
    logs = tmp_path_factory.mktemp("ray")
    nodes: list[subprocess.Popen[bytes]] = []
    common = ["--num-cpus=1", "--object-store-memory=100000000", "--disable-usage-stats", "--block"]
    try:
        for index in range(RAY_NODES):  # one at a time: nodes started together on one host race and time out
            where = (
                ["--head", f"--port={port}", "--include-dashboard=false"]
                if index == 0
                else [f"--address=127.0.0.1:{port}"]
            )
            with (logs / f"node-{index}.log").open("wb") as log:
                nodes.append(subprocess.Popen([RAY, "start", *where, *common], stdout=log, stderr=subprocess.STDOUT))
            _wait_for_nodes(f"127.0.0.1:{port}", index + 1, nodes)
        yield f"127.0.0.1:{port}"
    finally:
        for node in reversed(nodes):  # `ray start --block` stops its node's processes on SIGTERM
            node.send_signal(signal.SIGTERM)
        for node in nodes:
            node.wait(timeout=60)


def _wait_for_nodes(address: str, count: int, nodes: list[subprocess.Popen[bytes]]) -> None:
    probe = (
        f"import ray; ray.init(address={address!r}, log_to_driver=False, configure_logging=False); "
        "print(sum(n['Alive'] for n in ray.nodes()))"
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        assert all(node.poll() is None for node in nodes), "a Ray node exited while starting"
        found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
        if found.returncode == 0 and found.stdout.strip().splitlines()[-1:] == [str(count)]:
            return
        time.sleep(1)
    raise AssertionError(f"the Ray cluster did not reach {count} nodes")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Workspace:
    """A spec's folder with the quickstart's English paragraphs as data, and the commands a user types."""

    dir: Path

    def spec(self, text: str, name: str = "spec.toml") -> Path:
        path = self.dir / name
        path.write_text(text)
        return path

    def command(self, spec: Path, root: Path) -> list[str]:
        return [sys.executable, "-m", "lmspec.cli", "run", str(spec), "--root", str(root)]

    def env(self) -> dict[str, str]:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        env.pop("CI", None)
        return env

    def run(self, spec: Path, root: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(spec, root), env=self.env(), capture_output=True, text=True, timeout=600, check=False
        )

    def start(self, spec: Path, root: Path) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(spec, root),
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    write_jsonl(tmp_path / "data" / "docs.jsonl", english_paragraphs()[:400])
    return Workspace(tmp_path)
