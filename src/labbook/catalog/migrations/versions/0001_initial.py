"""Projects, runs, params, metric summaries and tags.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("settings", sa.JSON, nullable=True),
    )
    op.create_table(
        "runs",
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
    )
    op.create_index("ix_runs_project_created", "runs", ["project", "created_at"])
    op.create_index("ix_runs_project_status", "runs", ["project", "status"])
    op.create_table(
        "params",
        sa.Column("run_uuid", sa.String(64), sa.ForeignKey("runs.uuid", ondelete="CASCADE"), primary_key=True),
        sa.Column("section", sa.String(8), primary_key=True),
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("value_num", sa.Float, nullable=True),
        sa.Column("value_text", sa.Text, nullable=True),
        sa.Column("value_json", sa.JSON, nullable=True),
    )
    op.create_index("ix_params_key_num", "params", ["section", "key", "value_num"])
    op.create_table(
        "metrics",
        sa.Column("run_uuid", sa.String(64), sa.ForeignKey("runs.uuid", ondelete="CASCADE"), primary_key=True),
        sa.Column("name", sa.String(1024), primary_key=True),
        sa.Column("last", sa.Float, nullable=True),
        sa.Column("min", sa.Float, nullable=True),
        sa.Column("max", sa.Float, nullable=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("last_step", sa.BigInteger, nullable=True),
        sa.Column("last_timestamp", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_metrics_name_last", "metrics", ["name", "last"])
    op.create_table(
        "tags",
        sa.Column("run_uuid", sa.String(64), sa.ForeignKey("runs.uuid", ondelete="CASCADE"), primary_key=True),
        sa.Column("tag", sa.String(255), primary_key=True),
    )
    op.create_index("ix_tags_tag", "tags", ["tag"])


def downgrade() -> None:
    for table in ("tags", "metrics", "params", "runs", "projects"):
        op.drop_table(table)
