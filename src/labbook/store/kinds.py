"""Artifact kinds: Polyaxon's 32 ``V1ArtifactKind`` values plus labbook's catalogue kinds.

::

    from labbook import tracking

    tracking.log_artifact("data/file.csv", name="file", kind=tracking.V1ArtifactKind.CSV)

Each kind belongs to one ``store://`` prefix (see ``labbook.store.uri``): models to
``models``, datasets to ``datasets``, and so on; every other kind to ``artifacts``.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from labbook.errors import InvalidValueError


class ArtifactKind(str, Enum):
    """The kind of an artifact or lineage record. ``str(kind)`` and ``f"{kind}"`` give the value."""

    MODEL = "model"
    AUDIO = "audio"
    VIDEO = "video"
    HISTOGRAM = "histogram"
    IMAGE = "image"
    TENSOR = "tensor"
    DATAFRAME = "dataframe"
    CHART = "chart"
    CSV = "csv"
    TSV = "tsv"
    PSV = "psv"
    SSV = "ssv"
    METRIC = "metric"
    ENV = "env"
    HTML = "html"
    TEXT = "text"
    FILE = "file"
    DIR = "dir"
    DOCKERFILE = "dockerfile"
    DOCKER_IMAGE = "docker_image"
    DATA = "data"
    CODEREF = "coderef"
    TABLE = "table"
    TENSORBOARD = "tensorboard"
    CURVE = "curve"
    CONFUSION = "confusion"
    ANALYSIS = "analysis"
    ITERATION = "iteration"
    MARKDOWN = "markdown"
    SYSTEM = "system"
    ARTIFACT = "artifact"
    SPAN = "span"
    # labbook's catalogue kinds (MLRun's), beyond Polyaxon's enum
    DATASET = "dataset"
    PLOT = "plot"
    FEATURE_SET = "feature-set"
    FEATURE_VECTOR = "feature-vector"

    def __str__(self) -> str:  # never "ArtifactKind.CSV" in a path (a Polyaxon defect)
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


POLYAXON_KINDS = tuple(k for k in ArtifactKind if k.value not in
                       ("dataset", "plot", "feature-set", "feature-vector"))

# store:// prefix -> the kinds it names. "artifacts" names any kind.
PREFIX_KINDS = {
    "models": frozenset({"model"}),
    "datasets": frozenset({"dataset"}),
    "plots": frozenset({"plot", "chart"}),
    "feature-sets": frozenset({"feature-set"}),
    "feature-vectors": frozenset({"feature-vector"}),
}
PREFIXES = ("artifacts", *PREFIX_KINDS)
DIR_KINDS = frozenset({"dir", "tensorboard"})


def kind_value(kind: Any, default: str = "file") -> str:
    """The kind's text; raises naming the valid kinds for anything else."""
    if kind is None:
        return default
    text = str(getattr(kind, "value", kind)).strip().lower()
    try:
        return ArtifactKind(text).value
    except ValueError:
        valid = ", ".join(k.value for k in ArtifactKind)
        raise InvalidValueError(f"Unknown artifact kind {kind!r}. Use one of: {valid}.") from None


def prefix_for(kind: str) -> str:
    """The store:// prefix of a kind: ``prefix_for("model") == "models"``."""
    for prefix, kinds in PREFIX_KINDS.items():
        if kind in kinds:
            return prefix
    return "artifacts"
