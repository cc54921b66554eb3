"""Golden plans: tests/golden/NAME.{toml,yaml} compiles to exactly tests/golden/NAME.plan.json.

Hashes are pinned here on purpose: a diff means every user's cached step would re-run. Make it
deliberate (bump IDENTITY_SCHEMA or a step's version), then regenerate with
`LMSPEC_UPDATE_GOLDEN=1 scripts/test.sh tests/unit/test_golden.py` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lmspec.compiler import compile_spec
from lmspec.compiler.render import plan_dict
from lmspec.outputs.status import plan_statuses

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
SPECS = sorted(p for p in GOLDEN.iterdir() if p.suffix in (".toml", ".yaml"))


@pytest.mark.parametrize("spec", SPECS, ids=[p.name for p in SPECS])
def test_plan_matches_golden(spec: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)
    compiled = compile_spec(Path(spec.name), "/runs")
    plan = plan_dict(compiled, plan_statuses(compiled))  # statuses read as `lmspec compile` reads them
    expected_file = spec.with_suffix(".plan.json")
    if os.environ.get("LMSPEC_UPDATE_GOLDEN"):
        expected_file.write_text(json.dumps(plan, indent=2) + "\n", encoding="utf-8")
    assert plan == json.loads(expected_file.read_text(encoding="utf-8"))


def test_there_are_golden_specs() -> None:
    assert len(SPECS) >= 3
