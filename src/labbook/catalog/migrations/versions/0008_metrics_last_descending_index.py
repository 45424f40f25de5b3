"""An index that walks a metric's last values from the greatest on PostgreSQL: (name, last DESC,
run_uuid).

A search ordered by ``-metrics.<name>`` walks the metric's summaries in the page's order,
``last DESC, run_uuid`` (the run id breaks ties, for keyset pages). ``ix_metrics_name_last_run``
(name, last, run_uuid) read backwards gives ``last DESC, run_uuid DESC``: PostgreSQL read every
tie of the page's last value before sorting them by run id, and tested each one's params. At
100,000 runs whose losses tie by hundreds, the first page filtered on a param and a metric read
3,660 buffers; from this index, in the page's order, the walk stops at the hundredth run: 2,048.
Ascending pages keep reading the older index forwards. Only the ``last`` summary (what
``metrics.<name>`` means); SQLite is left as it is, as in revision 0007: a logging process
writes one index fewer per summary.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_metrics_name_last_desc_run ON metrics (name, last DESC, run_uuid)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_metrics_name_last_desc_run", table_name="metrics")
