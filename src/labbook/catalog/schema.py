"""The catalog's SQL schema: the one module that knows the tables.

Changing a table means a new Alembic revision under ``migrations/versions`` and bumping
``HEAD_REVISION``; a test checks the two agree.
"""

from __future__ import annotations

import sqlalchemy as sa

HEAD_REVISION = "0001"

metadata = sa.MetaData()

projects = sa.Table(
    "projects",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("settings", sa.JSON, nullable=True),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("uuid", sa.String(64), primary_key=True),
    sa.Column("project", sa.String(255), sa.ForeignKey("projects.name"), nullable=False),
    sa.Column("name", sa.Text, nullable=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("duration", sa.Float, nullable=True),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("user", sa.String(255), nullable=True),
    sa.Column("host", sa.String(255), nullable=True),
    sa.Column("git_commit", sa.String(64), nullable=True),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("run_file_mtime", sa.Float, nullable=True),
    sa.Column("inputs", sa.JSON, nullable=True),
    sa.Column("outputs", sa.JSON, nullable=True),
    sa.Column("meta", sa.JSON, nullable=True),
    sa.Index("ix_runs_project_created", "project", "created_at"),
    sa.Index("ix_runs_project_status", "project", "status"),
)

# Inputs and outputs, one row per key, so filters and sorting run in SQL.
params = sa.Table(
    "params",
    metadata,
    sa.Column("run_uuid", sa.String(64), sa.ForeignKey("runs.uuid", ondelete="CASCADE"), primary_key=True),
    sa.Column("section", sa.String(8), primary_key=True),  # "inputs" or "outputs"
    sa.Column("key", sa.String(512), primary_key=True),
    sa.Column("value_num", sa.Float, nullable=True),
    sa.Column("value_text", sa.Text, nullable=True),
    sa.Column("value_json", sa.JSON, nullable=True),
    sa.Index("ix_params_key_num", "section", "key", "value_num"),
)

metrics = sa.Table(
    "metrics",
    metadata,
    sa.Column("run_uuid", sa.String(64), sa.ForeignKey("runs.uuid", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(1024), primary_key=True),
    sa.Column("last", sa.Float, nullable=True),
    sa.Column("min", sa.Float, nullable=True),
    sa.Column("max", sa.Float, nullable=True),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("last_step", sa.BigInteger, nullable=True),
    sa.Column("last_timestamp", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_metrics_name_last", "name", "last"),
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column("run_uuid", sa.String(64), sa.ForeignKey("runs.uuid", ondelete="CASCADE"), primary_key=True),
    sa.Column("tag", sa.String(255), primary_key=True),
    sa.Index("ix_tags_tag", "tag"),
)
