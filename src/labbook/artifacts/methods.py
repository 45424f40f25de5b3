"""Artifact and lineage logging: ``ArtifactMethods``, which ``Run`` (``labbook.tracking.run``) inherits.

Polyaxon's calls keep their meaning: with a ``step``, ``log_artifact``/``log_model`` copy the
file or folder to ``assets/<kind>/<name>_<step>[.<ext>]`` and write an event; without one, they
copy it under ``outputs/`` (``rel_path`` honoured) and append a lineage record. The user's file
is never moved or changed (a copy-on-write clone where the file system can share blocks). Every logged
artifact is also a catalogued version with a ``store://`` URI, which the call returns::

    v = run.log_artifact("data/file.csv", name="file", kind=V1ArtifactKind.CSV)
    v.uri                      # 'store://artifacts/<project>/file@<uid>'
    run.use_artifact("store://datasets/churn/train:prod")   # lineage: this run consumed it

The ``_ref`` calls record lineage only; a location outside the store is recorded as given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labbook._values import step_value
from labbook.artifacts.lineage import RunArtifact
from labbook.artifacts.refs import ArtifactRefMethods
from labbook.artifacts.runlog import (
    _artifact_path,
    _copy_into,
    _existing,
    _json_dict,
    _no_extra,
    _outputs_dest,
    _pinned,
    _record_lineage,
    _register,
    _stem,
)
from labbook.errors import InvalidValueError, NotFoundError, RunStateError
from labbook.store.kinds import kind_value
from labbook.store.layout import safe_join
from labbook.store.names import check_name
from labbook.store.uri import check_key, check_tag, key_from_name
from labbook.writer.surface import RunSurface


def _log_path(run: RunSurface, function: str, source: Path, name: str, kind: str, *, summary: Any, step: Any,
              timestamp: Any, rel_path: str | None, event_value: dict[str, Any], **register: Any):
    """The shared body of log_artifact and log_model."""
    from labbook.artifacts.publish import file_ext

    # Validate everything before touching the user's file: a refused call moves nothing.
    key = check_key(key_from_name(name))
    if step is not None:
        step = step_value(step)
    summary = _json_dict(summary, "summary")
    _json_dict(register.get("labels"), "labels")
    _artifact_path(run, register.get("artifact_path"))  # a bad template is refused now; rendered once, later
    register["sources"] = _pinned(run, register.get("sources"), "sources")
    register["links"] = _pinned(run, register.get("links"), "links")
    if step is not None:
        dest = run._folder.asset_path(kind, name, step, file_ext(source, source.is_dir()) or None)
    else:
        if rel_path is not None:
            safe_join(run._folder.outputs, rel_path)
        dest = _outputs_dest(run, rel_path, source.name)
    _copy_into(run, source, dest)  # a copy: the user's file stays where it is
    version = _register(run, dest, key, kind, summary=summary, **register)
    rel = run._folder.relative(dest)
    if step is not None:
        value = {**event_value, "path": rel, "uri": version.uri, "hash": version.hash, "size": version.size}
        run._emit(kind, name, value, step, timestamp)
    else:
        extra = {k: v for k, v in event_value.items() if k not in ("kind", "spec")}
        lineage_summary = {**summary, **extra, "hash": version.hash[:12], "size": version.size}
        _record_lineage(run, [RunArtifact(name=name, kind=kind, path=rel, summary=lineage_summary,
                                          uri=version.uri, uid=version.uid)])
    return version


# -- Polyaxon's artifact calls -------------------------------------------------------------


def _log_table(run: RunSurface, function: str, data: Any, name: str, kind: str, *, format: str, rel_path: str | None,
               extra_meta: dict[str, Any], preview: int, stats: bool | None, labels: Any, summary: Any,
               sources: Any, links: Any, description: str | None, artifact_path: str | None):
    from labbook.artifacts.datasets import as_frame, describe_table, write_table

    run._check_open(function)
    key = check_key(key_from_name(check_name(name, f"{kind} name")))
    frame = as_frame(data, function)
    meta = {**describe_table(frame, preview=preview, stats=stats), **extra_meta}
    dest = _outputs_dest(run, rel_path, f"{key}.{format}")
    write_table(frame, dest, format)
    version = _register(run, dest, key, kind, labels=labels, summary=summary, meta=meta, sources=sources,
                        links=links, format=format, description=description, artifact_path=artifact_path)
    _record_lineage(run, [RunArtifact(name=name, kind=kind, path=run._folder.relative(dest),
                                      summary={**_json_dict(summary, "summary"), "hash": version.hash[:12],
                                               "rows": meta["rows"]},
                                      uri=version.uri, uid=version.uid)])
    return version


def _promote(run: RunSurface, function: str, version: str, kinds: set[str] | None, description: str | None,
             tags: Any, artifacts: Any, force: bool) -> list[Any]:
    from labbook.artifacts.runlog import _context

    run._check_open(function)
    ctx = _context(run)
    names = [check_tag(version)] + [check_tag(t) for t in ([tags] if isinstance(tags, str) else list(tags or []))]
    produced = ctx.list(run.project, producer=run.uuid, limit=None)
    wanted = set([artifacts] if isinstance(artifacts, str) else artifacts or [])
    chosen, seen = [], set()
    for candidate in produced:  # newest first: the last version of each key this run logged
        if candidate.key in seen or (kinds and candidate.kind not in kinds) or (wanted and candidate.key not in wanted):
            continue
        seen.add(candidate.key)
        chosen.append(candidate)
    if not chosen:
        raise NotFoundError(f"{function}(): run {run.uuid} logged no {'model' if kinds else 'artifact'}"
                            f"{' named ' + ', '.join(sorted(wanted)) if wanted else ''} to promote.")
    from labbook.catalog.artifacts import find_version

    for candidate in chosen:
        for tag in names:
            holder = find_version(ctx.catalog, candidate.project, candidate.key, tag=tag)
            if holder is not None and holder["uid"] != candidate.uid and not force:
                raise RunStateError(f"Tag {tag!r} of {candidate.project}/{candidate.key} is on v{holder['number']}; "
                                    "pass force=True to move it.")
    promoted = []
    for candidate in chosen:
        for tag in names:
            tagged = ctx.tag(candidate.uri, tag)
        promoted.append(tagged)
    return promoted


RUN_METHODS = (
    "get_tensorboard_path", "log_artifact", "log_artifact_lineage", "log_artifact_ref",
    "log_code_ref", "log_data_ref", "log_dataset", "log_dir_ref", "log_env", "log_feature_set",
    "log_feature_vector", "log_file_ref", "log_model", "log_model_ref", "log_plot",
    "log_tensorboard_ref", "promote_to_artifact_version", "promote_to_model_version", "use_artifact",
)


class ArtifactMethods(ArtifactRefMethods):
    """Run's artifact methods (see the module docstring): ``Run`` inherits them, with the references of ``ArtifactRefMethods``."""

    def log_artifact(self, path: str, name: str | None = None, kind: Any = None, summary: dict | None = None,
                     step: int | None = None, timestamp: Any = None, rel_path: str | None = None,
                     skip_hash_calculation: bool = False, *, labels: dict | None = None,
                     sources: Any = None, links: Any = None, description: str | None = None,
                     artifact_path: str | None = None, **kwargs: Any) -> Any:
        """Log a file or folder; returns its catalogued ``ArtifactVersion``.

        ``run.log_artifact("file.csv", kind="csv", step=3)`` copies it to
        ``assets/csv/file_3.csv`` with an event; without ``step`` it is copied under ``outputs/``
        (``rel_path`` picks a sub-folder). ``labels``, ``sources`` (store URIs it was made from),
        ``links`` and ``artifact_path`` go to the catalogue.
        """
        self._check_open("log_artifact")
        kind = kind if kind is not None else kwargs.pop("artifact_kind", None)
        _no_extra("log_artifact", kwargs)
        source = _existing(path, "log_artifact")
        kind = kind_value(kind, "dir" if source.is_dir() else "file")
        name = check_name(name or _stem(source), "artifact name")
        meta = None
        if kind == "dataset" and source.is_file():
            from labbook.artifacts.datasets import as_frame, describe_table

            meta = describe_table(as_frame(source, "log_artifact"))
        return _log_path(self, "log_artifact", source, name, kind, summary=summary, step=step, timestamp=timestamp,
                         rel_path=rel_path, event_value={"kind": kind}, labels=labels, sources=sources, links=links,
                         description=description, artifact_path=artifact_path, meta=meta)

    def log_model(self, path: str, name: str | None = None, framework: str | None = None,
                  summary: dict | None = None, step: int | None = None, timestamp: Any = None,
                  rel_path: str | None = None, skip_hash_calculation: bool = False, *,
                  algorithm: str | None = None, metrics: dict | None = None, params: dict | None = None,
                  inputs: Any = None, outputs: Any = None, training_set: Any = None, label_column: Any = None,
                  extra_files: dict | None = None, links: Any = None, labels: dict | None = None,
                  sources: Any = None, description: str | None = None, artifact_path: str | None = None,
                  **kwargs: Any) -> Any:
        """Log a model file or folder (kind ``model``); returns its ``ArtifactVersion``.

        Without ``step`` it is copied to ``outputs/model/`` (or ``outputs/<rel_path>/``). The typed
        fields (``algorithm``, ``metrics``, ``params``, ``inputs``/``outputs`` or ``training_set`` with
        ``label_column``) become the version's ``meta``; ``extra_files={"roc": "roc.png"}`` logs each
        file as its own artifact and links it from the model.
        """
        from labbook.artifacts.models import model_meta

        self._check_open("log_model")
        _no_extra("log_model", kwargs)
        source = _existing(path, "log_model")
        name = check_name(name or _stem(source), "model name")
        meta = model_meta(path=source, framework=framework, algorithm=algorithm, metrics=metrics, params=params,
                          inputs=inputs, outputs=outputs, training_set=training_set, label_column=label_column)
        all_links = dict(_pinned(self, links, "links") or {})
        for extra_name, extra_path in (extra_files or {}).items():
            extra = _existing(extra_path, "log_model")
            key = key_from_name(f"{name}-{check_name(extra_name, 'extra file name')}")
            extra_rel = f"{rel_path or 'model'}/extra" if step is None else None
            version = ArtifactMethods.log_artifact(self, str(extra), name=key, kind="dir" if extra.is_dir() else "file",
                                                   rel_path=extra_rel, step=step, timestamp=timestamp)
            all_links[extra_name] = version.uri
        model_labels = {**({"framework": framework} if framework else {}), **_json_dict(labels, "labels")}
        self.log_meta(has_model=True)
        return _log_path(self, "log_model", source, name, "model", summary=summary, step=step, timestamp=timestamp,
                         rel_path=rel_path if rel_path is not None or step is not None else "model",
                         event_value={"framework": framework, "spec": _json_dict(summary, "summary")},
                         labels=model_labels, sources=sources, links=all_links, description=description,
                         artifact_path=artifact_path, meta=meta)

    def log_dataset(self, df: Any, name: str, *, format: str = "parquet", preview: int = 20,
                    stats: bool | None = None, label_column: str | None = None, labels: dict | None = None,
                    summary: dict | None = None, sources: Any = None, links: Any = None,
                    description: str | None = None, rel_path: str | None = "datasets",
                    artifact_path: str | None = None) -> Any:
        """Log a table (pandas, pyarrow, or a .csv/.parquet path) as a dataset version.

        Stored as Parquet (``format="csv"`` on request) with its schema, row count, per-column stats
        and a ``preview``-row sample: ``run.log_dataset(df, "train", labels={"split": "train"})``.
        """
        extra = {"label_column": label_column} if label_column else {}
        if label_column is not None:
            from labbook.artifacts.datasets import as_frame

            columns = [str(c) for c in as_frame(df, "log_dataset").columns]
            if label_column not in columns:
                raise InvalidValueError(f"label_column {label_column!r} is not a column; columns: {', '.join(columns)}.")
        return _log_table(self, "log_dataset", df, name, "dataset", format=format, rel_path=rel_path,
                          extra_meta=extra, preview=preview, stats=stats, labels=labels, summary=summary,
                          sources=sources, links=links, description=description, artifact_path=artifact_path)

    def log_feature_set(self, df: Any, name: str, *, entities: list[str] | str | None = None,
                        timestamp_key: str | None = None, label_column: str | None = None,
                        labels: dict | None = None, summary: dict | None = None, sources: Any = None,
                        description: str | None = None, rel_path: str | None = "feature-sets",
                        artifact_path: str | None = None) -> Any:
        """Log a feature set: its data (Parquet), entity columns and typed features.

        ``run.log_feature_set(df, "customers", entities=["customer_id"], timestamp_key="ts")``
        """
        from labbook.artifacts.datasets import as_frame, feature_set_meta

        entity_list = [entities] if isinstance(entities, str) else list(entities or [])
        meta = feature_set_meta(as_frame(df, "log_feature_set"), entity_list, timestamp_key, label_column)
        return _log_table(self, "log_feature_set", df, name, "feature-set", format="parquet", rel_path=rel_path,
                          extra_meta=meta, preview=20, stats=None, labels=labels, summary=summary,
                          sources=sources, links=None, description=description, artifact_path=artifact_path)

    def log_feature_vector(self, df: Any, name: str, *, features: list[str] | None = None,
                           entities: list[str] | str | None = None, label_feature: str | None = None,
                           labels: dict | None = None, summary: dict | None = None, sources: Any = None,
                           description: str | None = None, rel_path: str | None = "feature-vectors",
                           artifact_path: str | None = None) -> Any:
        """Log a feature vector: the joined data, its feature list (``"set.feature"`` names or
        columns), entities and label; ``sources`` can name the feature sets it came from."""
        from labbook.artifacts.datasets import as_frame

        frame = as_frame(df, "log_feature_vector")
        types = {str(c): str(t) for c, t in frame.dtypes.items()}
        entity_list = [entities] if isinstance(entities, str) else list(entities or [])
        missing = [c for c in entity_list + ([label_feature] if label_feature else []) if c not in types]
        if missing:
            raise InvalidValueError(f"Columns {missing} are not in the feature vector; columns: {', '.join(types)}.")
        names = list(features) if features is not None else [c for c in types if c not in entity_list]
        meta = {"features": [{"name": f, "type": types.get(f.rsplit(".", 1)[-1], types.get(f))} for f in names],
                "entities": [{"name": e, "type": types[e]} for e in entity_list], "label_feature": label_feature}
        return _log_table(self, "log_feature_vector", df, name, "feature-vector", format="parquet",
                          rel_path=rel_path, extra_meta=meta, preview=20, stats=None, labels=labels,
                          summary=summary, sources=sources, links=None, description=description,
                          artifact_path=artifact_path)

    def log_plot(self, figure: Any, name: str, *, labels: dict | None = None, summary: dict | None = None,
                 sources: Any = None, description: str | None = None, rel_path: str | None = "plots",
                 artifact_path: str | None = None, close: bool = False) -> Any:
        """Log a figure (matplotlib, plotly, bokeh, altair, PNG/SVG bytes or an image file) as a
        plot version: ``run.log_plot(fig, "roc", sources=[model.uri])``."""
        from labbook.artifacts.plots import render_figure

        self._check_open("log_plot")
        key = check_key(key_from_name(check_name(name, "plot name")))
        dest, library = render_figure(figure, _outputs_dest(self, rel_path, key))
        if close and type(figure).__module__.startswith("matplotlib"):
            import matplotlib.pyplot as plt

            plt.close(figure)
        version = _register(self, dest, key, "plot", labels=labels, summary=summary, meta={"library": library},
                            sources=sources, description=description, artifact_path=artifact_path,
                            format=dest.name.split(".", 1)[-1])
        _record_lineage(self, [RunArtifact(name=name, kind="plot", path=self._folder.relative(dest),
                                           summary={"hash": version.hash[:12]}, uri=version.uri, uid=version.uid)])
        return version

    def promote_to_model_version(self, version: str, description: str | None = None, tags: Any = None,
                                 content: Any = None, connection: str | None = None, artifacts: Any = None,
                                 force: bool = False) -> Any:
        """Tag this run's newest model version(s) with ``version`` (and ``tags``): a movable pointer,
        so ``store://models/<project>/<key>:<version>`` names it."""
        return _promote(self, "promote_to_model_version", version, {"model"}, description, tags, artifacts, force)

    def promote_to_artifact_version(self, version: str, description: str | None = None, tags: Any = None,
                                    content: Any = None, connection: str | None = None, artifacts: Any = None,
                                    force: bool = False) -> Any:
        """As ``promote_to_model_version``, for any kind of artifact this run logged."""
        return _promote(self, "promote_to_artifact_version", version, None, description, tags, artifacts, force)
