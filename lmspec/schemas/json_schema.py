"""The JSON Schema editors use to complete and check spec files (taplo / Even Better TOML, YAML LS)."""

from __future__ import annotations

import json

from lmspec.schemas.experiment import experiment_model

SCHEMA_ID = "https://lmspec.dev/schemas/experiment.schema.json"


def schema_text() -> str:
    """Deterministic text of the schema, so a stale committed copy is a plain diff; plugins' kinds included."""
    schema = experiment_model().model_json_schema()
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
