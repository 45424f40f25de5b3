"""Artifacts: versions, labels, tags, artifact links and run lineage.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "artifacts",
        sa.Column("project", sa.String(255), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("latest_number", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "artifact_versions",
        sa.Column("uid", sa.String(64), primary_key=True),
        sa.Column("project", sa.String(255), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("is_dir", sa.Boolean, nullable=False),
        sa.Column("format", sa.String(32), nullable=True),
        sa.Column("producer_run", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("record", sa.JSON, nullable=False),
        sa.UniqueConstraint("project", "key", "number", name="uq_artifact_versions_number"),
    )
    op.create_index("ix_artifact_versions_project_kind", "artifact_versions",
                    ["project", "kind", "created_at"])
    op.create_index("ix_artifact_versions_project_created", "artifact_versions", ["project", "created_at"])
    op.create_index("ix_artifact_versions_producer", "artifact_versions", ["producer_run"])
    op.create_index("ix_artifact_versions_hash", "artifact_versions", ["hash"])
    op.create_table(
        "artifact_labels",
        sa.Column("uid", sa.String(64), sa.ForeignKey("artifact_versions.uid", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("value", sa.Text, nullable=True),
    )
    op.create_index("ix_artifact_labels_name_value", "artifact_labels", ["name", "value"])
    op.create_table(
        "artifact_tags",
        sa.Column("project", sa.String(255), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("tag", sa.String(64), primary_key=True),
        sa.Column("uid", sa.String(64), sa.ForeignKey("artifact_versions.uid", ondelete="CASCADE"),
                  nullable=False),
    )
    op.create_index("ix_artifact_tags_uid", "artifact_tags", ["uid"])
    op.create_table(
        "artifact_links",
        sa.Column("from_uid", sa.String(64), primary_key=True),
        sa.Column("relation", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("to_uid", sa.String(64), nullable=False),
    )
    op.create_index("ix_artifact_links_to", "artifact_links", ["to_uid"])
    op.create_table(
        "lineage",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("project", sa.String(255), nullable=False),
        sa.Column("run_uuid", sa.String(64), nullable=False),
        sa.Column("is_input", sa.Boolean, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("path", sa.Text, nullable=True),
        sa.Column("uid", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_lineage_run", "lineage", ["run_uuid"])
    op.create_index("ix_lineage_uid", "lineage", ["uid"])
    op.create_index("ix_lineage_path", "lineage", ["path"])


def downgrade() -> None:
    for table in ("lineage", "artifact_links", "artifact_tags", "artifact_labels",
                  "artifact_versions", "artifacts"):
        op.drop_table(table)
