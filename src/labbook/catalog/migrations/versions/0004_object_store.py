"""Object store: committed ranges of append-only files, compacted series, background jobs.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stream_files",
        sa.Column("run_uuid", sa.String(64), primary_key=True),
        sa.Column("path", sa.String(1024), primary_key=True),
        sa.Column("committed", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "file_chunks",
        sa.Column("run_uuid", sa.String(64), primary_key=True),
        sa.Column("path", sa.String(1024), primary_key=True),
        sa.Column("offset", sa.BigInteger, primary_key=True),
        sa.Column("length", sa.BigInteger, nullable=False),
        sa.Column("object", sa.String(1200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "series_compactions",
        sa.Column("run_uuid", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(1024), primary_key=True),
        sa.Column("points_object", sa.String(1200), nullable=False),
        sa.Column("tiles_object", sa.String(1200), nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("covers", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("run_uuid", sa.String(64), nullable=False),
        sa.Column("target", sa.String(1100), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("claimed_by", sa.String(128), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_jobs_state_id", "jobs", ["state", "id"])
    op.create_index("ix_jobs_target", "jobs", ["run_uuid", "target", "state"])


def downgrade() -> None:
    for table in ("jobs", "series_compactions", "file_chunks", "stream_files"):
        op.drop_table(table)
