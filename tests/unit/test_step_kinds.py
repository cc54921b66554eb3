"""One registration per step kind: schema classes and executors agree, references are found from types."""

from __future__ import annotations

import importlib
import pkgutil
import re
import warnings
from collections.abc import Callable
from pathlib import Path

import lmspec.runtime
from lmspec.runtime.registry import executor_for, registered_executors
from lmspec.schemas import step_kinds
from lmspec.schemas.data import Filter
from lmspec.schemas.references import Reference, references
from lmspec.schemas.training import Train
from tests.conftest import REPO, diagnostics_of


def test_every_kind_has_an_executor_and_every_executor_a_kind() -> None:
    kinds = step_kinds()
    missing = [name for name, schema in kinds.items() if executor_for(schema) is None]
    assert not missing, f"step kinds without an executor: {missing}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # engines' import-time warnings are not the subject
        for module in pkgutil.walk_packages(lmspec.runtime.__path__, "lmspec.runtime."):
            importlib.import_module(module.name)  # an executor registered anywhere in the runtime is seen
    orphans = [schema.__qualname__ for schema in registered_executors() if schema not in kinds.values()]
    assert not orphans, f"executors whose schema is not a registered step kind: {orphans}"


HOMONYMS = {"train": 'also the name of a data split (`split = "train"`, tokenize\'s train/validation)'}
"""Kind names that are ordinary words elsewhere in the code, so a search for them finds other meanings."""


def test_a_kind_name_is_written_only_in_its_schema() -> None:
    """`grep '"dedup"' lmspec/` finds the kind's name in its schema alone: everything else derives from it."""
    sources = {path: path.read_text(encoding="utf-8") for path in (REPO / "lmspec").rglob("*.py")}
    for kind, schema in step_kinds().items():
        if kind in HOMONYMS:
            continue
        owner = Path(importlib.import_module(schema.__module__).__file__ or "")
        quoted = re.compile(rf"[\"']{kind}[\"']")
        elsewhere = [str(p.relative_to(REPO)) for p, text in sources.items() if p != owner and quoted.search(text)]
        assert not elsewhere, f'"{kind}" is spelled out outside {owner.name}: {elsewhere}'


def test_references_are_collected_from_field_types() -> None:
    train = {
        "kind": "train",
        "data": {"@web": 0.7, "@code": 0.3},
        "init_from": "@base",
        "batch_size": "not a number",  # invalid elsewhere: the references are still found
    }
    assert references(Train, train) == [
        Reference(("data", "@web"), "web", ("tokens",)),
        Reference(("data", "@code"), "code", ("tokens",)),
        Reference(("init_from",), "base", ("model",)),
    ]
    rules = {
        "kind": "filter",
        "input": "@raw",
        "rules": [{"kind": "length", "min_chars": 3}, {"kind": "classifier", "model": "@clf"}, {"kind": "x"}],
    }
    assert [(r.path, r.target, r.accepts) for r in references(Filter, rules)] == [
        (("input",), "raw", ("documents",)),
        (("rules", 1, "model"), "clf", ("classifier",)),
    ]
    local = {"kind": "filter", "input": "@raw", "rules": [{"kind": "classifier", "model": "models/q.bin"}]}
    assert [r.target for r in references(Filter, local)] == ["raw"]  # a path is not a reference


def test_wrong_kind_reference_is_reported_with_other_errors_at_its_field(
    write_spec: Callable[..., Path],
) -> None:
    spec = write_spec(
        """
        [experiment]
        name = "x"

        [steps.raw]
        kind = "ingest"
        paths = ["a.jsonl"]
        format = "jsonl"

        [steps.tokens]
        kind = "tokenize"
        input = "@raw"
        validation_fraction = 2.0
        tokenizer = "@raw"
        """
    )
    found = {(d.line, d.field): d.message for d in diagnostics_of(spec)}
    assert found[(12, "steps.tokens.validation_fraction")].startswith("expected a number < 0.5")
    assert found[(13, "steps.tokens.tokenizer")] == (
        "`@raw` is an ingest step, which produces documents; `tokenizer` needs a tokenizer (a train_tokenizer step)"
    )
