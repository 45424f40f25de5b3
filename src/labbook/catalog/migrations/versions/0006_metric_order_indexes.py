"""Indexes that list runs in the order of a metric summary: (name, last|min|max, run_uuid).

A search ordered by one metric summary walks its index from the first value of the page and
stops when the page is full (``Catalog._search_by_metric``); the run id in the index breaks ties
in the page's order and lets PostgreSQL join the runs from the index alone (an index-only scan).
They replace ``ix_metrics_name_last`` (name, last), which the first one covers.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SUMMARIES = ("last", "min", "max")


def upgrade() -> None:
    op.drop_index("ix_metrics_name_last", table_name="metrics")
    for summary in SUMMARIES:
        op.create_index(f"ix_metrics_name_{summary}_run", "metrics", ["name", summary, "run_uuid"])


def downgrade() -> None:
    for summary in SUMMARIES:
        op.drop_index(f"ix_metrics_name_{summary}_run", table_name="metrics")
    op.create_index("ix_metrics_name_last", "metrics", ["name", "last"])
