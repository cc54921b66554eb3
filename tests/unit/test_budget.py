"""`[experiment] budget`: a plan estimated over budget is refused by validate and compile, naming its steps."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lmspec.cli import main
from lmspec.compiler import compile_spec
from lmspec.compiler.budget import budget_use
from lmspec.compiler.hardware import ACCELERATORS
from tests.conftest import REPO


def spec_with(write_spec: Callable[..., Path], budget: str) -> Path:
    text = (REPO / "tests/golden/quickstart.toml").read_text()
    return write_spec(text.replace('tags = ["quickstart"]', f'tags = ["quickstart"]\nbudget = {budget}'))


def test_over_budget_is_an_error_naming_the_step(
    write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    spec = spec_with(write_spec, "{ flops = 1e9 }")
    assert main(["validate", str(spec)]) == 1
    out = capsys.readouterr().out
    assert "spec.toml:8:20: error: experiment.budget.flops: the plan's training is estimated at 2.90e+11 FLOPs" in out
    assert "over this budget of 1.00e+09 FLOPs (model 2.90e+11 FLOPs)" in out
    assert main(["compile", str(spec), "--root", "/runs"]) == 1


def test_within_budget_reports_what_is_used(write_spec: Callable[..., Path]) -> None:
    spec = spec_with(write_spec, "{ usd = 100, gpu_hours = 1, flops = 1e12 }")
    used = budget_use(compile_spec(spec, "/runs"), ACCELERATORS)
    assert used["flops"] == (pytest.approx(2.9e11, rel=0.01), 1e12)
    assert used["gpu_hours"] == (0.0, 1)  # a CPU step spends no accelerator-hours
    assert 0 < used["usd"][0] < 0.01
