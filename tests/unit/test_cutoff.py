"""Early cutoff's pure side: the cutoff key and "same but inputs" over real fingerprints of compiled steps."""

from __future__ import annotations

from pathlib import Path

from lmspec.compiler import compile_spec
from lmspec.compiler.cutoff import cutoff_key
from lmspec.compiler.diff import own_field_changes
from lmspec.compiler.plan import StepPlan
from tests.support.specs import filtered


def _steps(tmp_path: Path, min_words: int = 5, method: str = "exact") -> dict[str, StepPlan]:
    (tmp_path / "data.jsonl").write_text('{"text": "a b c"}\n')
    spec = tmp_path / "spec.toml"
    spec.write_text(filtered("cut", paths="data.jsonl", min_words=min_words, method=method))
    plan = compile_spec(spec, root=str(tmp_path / "runs"))
    return {step.name: step for step in plan.steps}


def test_dependents_of_a_changed_step_differ_only_in_inputs(tmp_path: Path) -> None:
    before, after = _steps(tmp_path, min_words=5), _steps(tmp_path, min_words=6)
    assert before["unique"].hash != after["unique"].hash
    assert not own_field_changes(before["unique"].fingerprint, after["unique"].fingerprint)
    assert own_field_changes(before["long"].fingerprint, after["long"].fingerprint)
    other = _steps(tmp_path, method="minhash")
    assert own_field_changes(before["unique"].fingerprint, other["unique"].fingerprint)


def test_the_cutoff_key_follows_input_content_not_input_hashes(tmp_path: Path) -> None:
    before, after = _steps(tmp_path, min_words=5), _steps(tmp_path, min_words=6)
    old, new = before["unique"], after["unique"]
    old_input, new_input = before["long"].hash, after["long"].hash
    same = cutoff_key(old.fingerprint, {old_input: "c1"})
    assert cutoff_key(new.fingerprint, {new_input: "c1"}) == same
    assert cutoff_key(new.fingerprint, {new_input: "c2"}) != same
    assert cutoff_key(new.fingerprint, {}) != same  # an input of unknown content
