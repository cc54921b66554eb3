"""The JSON Schemas as editors use them: taplo (Even Better TOML) and ajv (the draft 2020-12 semantics of
yaml-language-server) accept every shipped spec and flag each invalid one where `lmspec validate` does.

The tools come from `scripts/editor-tools.sh` (npm), which `.ci/run` calls; without them the tests are
skipped, except in CI, where a missing tool is a failure.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from lmspec.schemas.json_schema import SCHEMA_FILES
from tests.conftest import REPO, diagnostics_of

pytestmark = pytest.mark.integration

SHIPPED = sorted(
    p
    for folder in ("specs", "examples", "tests/golden", "tests/editor/valid")
    for p in (REPO / folder).rglob("*")
    if p.suffix in (".toml", ".yaml", ".yml")
)
INVALID = REPO / "tests/editor/invalid"
TAPLO_SAYS = {
    "bad-enum.toml": '"jsn" is not valid under any of the schemas',
    "bad-preset.toml": '"tinyy" is not valid under any of the schemas',
    "nested-wrong-type.toml": '"fast" does not match',
    "out-of-bounds.toml": "2.0 is greater than or equal to the maximum of 0.5",
    "partial-no-kind.toml": '{"batch_size":0} is not valid under any of the schemas',
    "partial-unknown-field.toml": "'z_los' was unexpected",
    "unknown-field.toml": "'batchsize' was unexpected",
    "unknown-kind.toml": '"trian" is not one of',
    "unknown-table.toml": "'stepz' was unexpected",
    "wrong-type.toml": '"ten" is not valid under any of the schemas',
}
"""Each invalid TOML spec -> what taplo says about it (besides flagging the line `lmspec validate` names)."""


def tool(name: str) -> Path:
    folder = (
        os.environ.get("LMSPEC_EDITOR_TOOLS")
        or subprocess.run(
            [str(REPO / "scripts/editor-tools.sh")], capture_output=True, text=True, check=False
        ).stdout.strip()
    )
    found = Path(folder or "/nonexistent") / name
    if not found.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing: scripts/editor-tools.sh must install it in CI")
        pytest.skip(f"{name} is not installed (scripts/editor-tools.sh installs it with npm)")
    return found


def schema_of(spec: Path) -> str:
    """The schema file a spec's first line names."""
    first = spec.read_text(encoding="utf-8").splitlines()[0]
    match = re.search(r"(experiment(?:\.partial)?\.schema\.json)", first)
    assert match, f"{spec}: the first line must name a schema (`#:schema ...` or `# yaml-language-server: $schema=...`)"
    return match.group(1)


def taplo(*specs: Path) -> subprocess.CompletedProcess[str]:
    """One taplo run over several files (each start costs seconds); each file uses the schema its header names."""
    return subprocess.run(
        [str(tool("taplo")), "check", "--no-auto-config", "--colors", "never", *map(str, specs)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "RUST_LOG": "error"},
    )


def ajv(spec: Path) -> subprocess.CompletedProcess[str]:
    schema = REPO / "schemas" / schema_of(spec)
    command = [str(tool("ajv")), "validate", "--spec=draft2020", "--strict=false", "--errors=text"]
    return subprocess.run([*command, "-s", str(schema), "-d", str(spec)], capture_output=True, text=True, check=False)


@pytest.mark.parametrize("spec", SHIPPED, ids=[str(p.relative_to(REPO)) for p in SHIPPED])
def test_each_spec_names_the_schema_for_its_shape(spec: Path) -> None:
    text = spec.read_text(encoding="utf-8")
    extends_or_fragment = "extends" in text or not re.search(r"^(\[experiment\]|experiment:)", text, re.M)
    expected = SCHEMA_FILES["partial" if extends_or_fragment else "strict"]
    assert schema_of(spec) == expected, f"{spec.name} should name {expected} (README: Editors)"


def test_every_valid_spec_passes_the_editor_check() -> None:
    result = taplo(*(p for p in SHIPPED if p.suffix == ".toml"))
    assert result.returncode == 0, result.stdout + result.stderr
    for spec in (p for p in SHIPPED if p.suffix != ".toml"):
        checked = ajv(spec)
        assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.fixture(scope="module")
def invalid_report() -> str:
    result = taplo(*(INVALID / name for name in sorted(TAPLO_SAYS)))
    assert result.returncode != 0
    return result.stdout + result.stderr


@pytest.mark.parametrize("name", sorted(TAPLO_SAYS))
def test_each_invalid_toml_spec_is_flagged_where_lmspec_says(name: str, invalid_report: str) -> None:
    lines = {d.line for d in diagnostics_of(INVALID / name)}
    assert lines, f"{name} must be invalid for lmspec too"
    flagged = {int(m) for m in re.findall(rf"{re.escape(name)}:(\d+):\d+", invalid_report)}
    assert lines & flagged, f"lmspec names lines {sorted(lines)}, taplo flags {sorted(flagged)}"
    said = [block for block in invalid_report.split("error: ")[1:] if f"/{name}:" in block]
    assert any(TAPLO_SAYS[name] in block for block in said), said[:3]


def test_an_invalid_yaml_spec_is_flagged() -> None:
    result = ajv(INVALID / "bad-enum.yaml")
    assert result.returncode != 0
    assert "/steps/raw/format must be equal to one of the allowed values" in result.stdout + result.stderr
