"""What a spec cannot make lmspec do, and one broken file that cannot hide the others."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.integration.conftest import Project

pytestmark = pytest.mark.integration

PORTABLE = (
    '\nrunner = { name = "PortableRunner", options = { job_endpoint = "embed", environment_type = "PROCESS" } }\n'
)


def test_runner_settings_that_start_processes_need_the_flag(project: Project) -> None:
    text = project.spec.read_text()
    project.spec.write_text(text.replace('format = "text"\n', 'format = "text"' + PORTABLE, 1))
    refused = project.run()
    assert refused.returncode == 2
    assert "these steps' Beam runner settings start processes on this machine: docs (`job_endpoint = 'embed'`" in (
        refused.stderr
    )
    assert "lmspec run --allow-runner-processes" in refused.stderr
    assert project.executions() == []
    allowed = project.run("--allow-runner-processes")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "docs" in project.executions()


def test_a_dotted_runner_path_is_never_imported(project: Project) -> None:
    marker = project.dir / "imported"
    (project.dir / "evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    text = project.spec.read_text()
    project.spec.write_text(
        text.replace('format = "text"\n', 'format = "text"\nrunner = { name = "evil.Runner" }\n', 1)
    )
    result = subprocess.run(  # the module is importable: only the allow-list keeps it from being imported
        [*project.command("run", str(project.spec), "--root", str(project.root))],
        env={**project.env(), "PYTHONPATH": f"{project.dir}:{project.env()['PYTHONPATH']}"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "unknown Beam runner `evil.Runner`" in result.stderr
    assert "(an import path is not accepted: install a runner plugin instead)" in result.stderr
    assert not marker.exists()


def test_one_crashing_file_does_not_hide_the_others(project: Project) -> None:
    folder = project.dir / "specs"
    folder.mkdir()
    (folder / "a_valid.toml").write_text(project.spec.read_text())
    (folder / "b_crash.toml").write_text('[experiment]\nname = "c"\n[steps.c]\nkind = "crashing"\n')
    (folder / "c_invalid.toml").write_text('[experiment]\nname = "i"\n[steps.x]\nkind = "ingest"\n')
    result = subprocess.run(
        [sys.executable, "-m", "lmspec.cli", "validate", str(folder)],
        env={**project.env(), "LMSPEC_PLUGINS": "tests.support.crashing_kind"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any("b_crash.toml:1:1: error: internal error while checking this file" in line for line in lines)
    assert any("c_invalid.toml:3:8: error: steps.x.paths: missing required field `paths`" in line for line in lines)
    assert lines[-1] == "3 errors in 2 of 3 specs"
