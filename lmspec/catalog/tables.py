"""The catalog's tables (SQLAlchemy Core). JSON columns are text, so SQLite and PostgreSQL read the same."""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

meta = Table(
    "lmspec_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

runs = Table(
    "lmspec_runs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("experiment", String(200), nullable=False),
    Column("spec_path", Text, nullable=False),
    Column("spec_text", Text, nullable=False),
    Column("plan_hash", String(64), nullable=False),
    Column("root", Text, nullable=False),
    Column("git_commit", String(64)),
    Column("user", String(200)),
    Column("host", String(200)),
    Column("pid", Integer, comment="the run's process on `host`; schema version 3"),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float),
    Column("status", String(20), nullable=False, comment="running, succeeded, failed, abandoned, unknown"),
    Column("versions", Text, nullable=False, comment="JSON: lmspec and key engine package versions"),
)

artifacts = Table(
    "lmspec_artifacts",
    metadata,
    Column("output_path", Text, primary_key=True),
    Column("hash", String(64), nullable=False),
    Column("step_name", String(200), nullable=False),
    Column("kind", String(50), nullable=False),
    Column("experiment", String(200), nullable=False),
    Column("run_id", String(36), ForeignKey("lmspec_runs.id")),
    Column("config", Text, nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("status", String(20), nullable=False, comment="running, succeeded, failed, abandoned"),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("duration_s", Float),
    Column("counts", Text, nullable=False, default="{}"),
    Column("metrics", Text, nullable=False, default="{}"),
    Column("log_path", Text),
    Column("error", Text),
    Index("ix_artifacts_hash", "hash"),
    Index("ix_artifacts_step", "step_name", "finished_at"),
)

inputs = Table(
    "lmspec_inputs",
    metadata,
    Column("output_path", Text, ForeignKey("lmspec_artifacts.output_path"), primary_key=True),
    Column("input_path", Text, primary_key=True),
    Column("input_name", String(200), nullable=False),
)

series = Table(
    "lmspec_series",
    metadata,
    Column("output_path", Text, ForeignKey("lmspec_artifacts.output_path"), primary_key=True),
    Column("name", String(100), primary_key=True, comment="e.g. loss, lr, tokens_per_s, eval_loss"),
    Column("step", Integer, primary_key=True),
    Column("value", Float, nullable=False),
)
"""Per-step values of an artifact (a training run's loss curve, learning rate, throughput). Schema version 2."""
