"""An index that lists a project's runs newest first on PostgreSQL: (project, created_at DESC
NULLS LAST, uuid).

The runs table's default order is ``created_at DESC NULLS LAST, uuid`` (the run id breaks ties,
for keyset pages). PostgreSQL reads ``ix_runs_project_created`` (project, created_at) backwards
as ``created_at DESC NULLS FIRST`` only, and without the run id, so it sorted every run of the
project for a first page: about 80 ms at 100,000 runs, against under a millisecond read from
this index. SQLite is left as it is: its planner already answers that page from the older index
well within the dashboard's budget, and a logging process writes one index fewer per row.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_runs_project_newest ON runs (project, created_at DESC NULLS LAST, uuid)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_runs_project_newest", table_name="runs")
