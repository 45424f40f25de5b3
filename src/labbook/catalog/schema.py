"""The catalog's SQL schema: the one module that knows the tables.

Changing a table means a new Alembic revision under ``migrations/versions`` and bumping
``HEAD_REVISION``; a test checks the two agree.
"""

from __future__ import annotations

import sqlalchemy as sa

HEAD_REVISION = "0008"

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
    # on PostgreSQL also ix_runs_project_newest (project, created_at DESC NULLS LAST, uuid): revision 0007
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
    # (revision 0005) a search ordered by one summary walks its index (catalog.Catalog._search_by_metric)
    sa.Index("ix_metrics_name_last_run", "name", "last", "run_uuid"),
    sa.Index("ix_metrics_name_min_run", "name", "min", "run_uuid"),
    sa.Index("ix_metrics_name_max_run", "name", "max", "run_uuid"),
    # on PostgreSQL also ix_metrics_name_last_desc_run (name, last DESC, run_uuid): revision 0008
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column("run_uuid", sa.String(64), sa.ForeignKey("runs.uuid", ondelete="CASCADE"), primary_key=True),
    sa.Column("tag", sa.String(255), primary_key=True),
    sa.Index("ix_tags_tag", "tag"),
)


# -- artifacts (revision 0002): an index of the artifact store; see labbook.artifacts ----------

# One row per (project, key): the artifact, whatever its versions.
artifacts = sa.Table(
    "artifacts",
    metadata,
    sa.Column("project", sa.String(255), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("latest_number", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

artifact_versions = sa.Table(
    "artifact_versions",
    metadata,
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
    sa.Column("record", sa.JSON, nullable=False),  # the version's JSON, as stored
    sa.UniqueConstraint("project", "key", "number", name="uq_artifact_versions_number"),
    sa.Index("ix_artifact_versions_project_kind", "project", "kind", "created_at"),
    sa.Index("ix_artifact_versions_project_created", "project", "created_at"),
    sa.Index("ix_artifact_versions_producer", "producer_run"),
    sa.Index("ix_artifact_versions_hash", "hash"),
)

artifact_labels = sa.Table(
    "artifact_labels",
    metadata,
    sa.Column("uid", sa.String(64), sa.ForeignKey("artifact_versions.uid", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("value", sa.Text, nullable=True),
    sa.Index("ix_artifact_labels_name_value", "name", "value"),
)

# User tags are exclusive per key: one version holds "prod" at a time.
artifact_tags = sa.Table(
    "artifact_tags",
    metadata,
    sa.Column("project", sa.String(255), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("tag", sa.String(64), primary_key=True),
    sa.Column("uid", sa.String(64), sa.ForeignKey("artifact_versions.uid", ondelete="CASCADE"),
              nullable=False),
    sa.Index("ix_artifact_tags_uid", "uid"),
)

# Artifact -> artifact edges: "source" (made from) and "link" (a model -> its plots).
artifact_links = sa.Table(
    "artifact_links",
    metadata,
    sa.Column("from_uid", sa.String(64), primary_key=True),
    sa.Column("relation", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("to_uid", sa.String(64), nullable=False),
    sa.Index("ix_artifact_links_to", "to_uid"),
)

# Run <-> artifact edges, one per lineage.jsonl record (the run folder is the record).
lineage = sa.Table(
    "lineage",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("project", sa.String(255), nullable=False),
    sa.Column("run_uuid", sa.String(64), nullable=False),
    sa.Column("is_input", sa.Boolean, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("path", sa.Text, nullable=True),
    sa.Column("uid", sa.String(64), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_lineage_run", "run_uuid"),
    sa.Index("ix_lineage_uid", "uid"),
    sa.Index("ix_lineage_path", "path"),
)


# -- server (revision 0003): API tokens; see labbook.catalog.tokens ----------------------------

# Only a salted SHA-256 of each token's secret is kept; ``id`` is the token's public part.
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("scope", sa.String(16), nullable=False),  # read, write or admin
    sa.Column("project", sa.String(255), nullable=True),  # None: every project
    sa.Column("salt", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_api_tokens_name", "name"),
)


# -- object store (revision 0004): append-only files as immutable chunks; see labbook.catalog.chunks --

# Unlike every table above, these are the record of what an object store holds (its objects
# cannot be listed back into ranges): ``labbook index --rebuild`` leaves them alone.
STORE_TABLES = frozenset({"stream_files", "file_chunks", "series_compactions", "jobs", "stored_files"})

# One row per append-only file of a run kept in an object store: how many bytes are committed.
# Appends move ``committed`` forward by compare-and-set (``WHERE committed = <offset>``), so two
# writers of one file serialise on this row.
stream_files = sa.Table(
    "stream_files",
    metadata,
    sa.Column("run_uuid", sa.String(64), primary_key=True),
    sa.Column("path", sa.String(1024), primary_key=True),
    sa.Column("committed", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# The committed byte ranges: chunk ``[offset, offset + length)`` of a file is the object ``object``.
file_chunks = sa.Table(
    "file_chunks",
    metadata,
    sa.Column("run_uuid", sa.String(64), primary_key=True),
    sa.Column("path", sa.String(1024), primary_key=True),
    sa.Column("offset", sa.BigInteger, primary_key=True),
    sa.Column("length", sa.BigInteger, nullable=False),
    sa.Column("object", sa.String(1200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# A metric series compacted into one Parquet object (points) plus one of tiles; ``covers`` maps
# each file of the series to the committed length it was built from, so a reader uses it only
# while it is current.
series_compactions = sa.Table(
    "series_compactions",
    metadata,
    sa.Column("run_uuid", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(1024), primary_key=True),
    sa.Column("points_object", sa.String(1200), nullable=False),
    sa.Column("tiles_object", sa.String(1200), nullable=False),
    sa.Column("points", sa.BigInteger, nullable=False),
    sa.Column("covers", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# Background work for ``labbook server --role worker``: claimed with SELECT ... FOR UPDATE SKIP
# LOCKED (PostgreSQL) and a compare-and-set on ``state``, so each job runs once.
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(32), nullable=False),  # "compact"
    sa.Column("run_uuid", sa.String(64), nullable=False),
    sa.Column("target", sa.String(1100), nullable=False),  # "metric/<name>"
    sa.Column("state", sa.String(16), nullable=False),  # pending, running, done, failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("claimed_by", sa.String(128), nullable=True),
    sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_jobs_state_id", "state", "id"),
    sa.Index("ix_jobs_target", "run_uuid", "target", "state"),
)


# -- object store (revision 0005): the other files of synced runs; see labbook.server.stored --

# One row per replaced-whole record (run.json, summaries/, heartbeat/) or content-addressed file
# (assets, outputs) of a run synced to an object store: its bytes are the object ``object``
# (``blobs/<sha[:2]>/<sha256>``, shared by every run), so a replica that holds no local folder
# rebuilds the file from here.
stored_files = sa.Table(
    "stored_files",
    metadata,
    sa.Column("run_uuid", sa.String(64), primary_key=True),
    sa.Column("path", sa.String(1024), primary_key=True),
    sa.Column("project", sa.String(255), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),  # "replace" or "blob"
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("object", sa.String(1200), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
