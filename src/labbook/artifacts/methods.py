"""Artifact and lineage logging, as methods bound onto ``Run`` (see ``labbook.tracking.run``).

Polyaxon's calls keep their meaning: with a ``step``, ``log_artifact``/``log_model`` copy the
file or folder to ``assets/<kind>/<name>_<step>[.<ext>]`` and write an event; without one, they
move it under ``outputs/`` (``rel_path`` honoured) and append a lineage record. Every logged
artifact is also a catalogued version with a ``store://`` URI, which the call returns::

    v = run.log_artifact("data/file.csv", name="file", kind=V1ArtifactKind.CSV)
    v.uri                      # 'store://artifacts/<project>/file@<uid>'
    run.use_artifact("store://datasets/churn/train:prod")   # lineage: this run consumed it

The ``_ref`` calls record lineage only; a location outside the store is recorded as given.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import orjson

from labbook.artifacts.hashing import short_hash
from labbook.artifacts.kinds import kind_value
from labbook.artifacts.lineage import RunArtifact, append_lineage
from labbook.artifacts.uri import check_key, check_tag, is_store_uri, key_from_name
from labbook.errors import InvalidValueError, NotFoundError, RunStateError
from labbook.store.layout import safe_join
from labbook.store.names import check_name

# Old Polyaxon arguments that no longer change anything (``versioned`` was removed upstream).
_IGNORED = frozenset({"versioned"})


# -- helpers ---------------------------------------------------------------------------------


def _state(run: Any) -> dict[str, Any]:
    state = run.__dict__.get("_artifact_state")
    if state is None:
        state = run.__dict__["_artifact_state"] = {"consumed": [], "tensorboard": False}
    return state


def _context(run: Any):
    from labbook.artifacts.api import _Context

    return _Context(settings=run._settings)


def _existing(path: Any, function: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidValueError(f"{function}(): path must be a file or folder path, got {type(path).__name__}.")
    source = Path(path).expanduser()
    if not source.exists():
        raise InvalidValueError(
            f"Artifact path {str(path)!r} does not exist (cwd: {Path.cwd()}). Pass an existing file or directory."
        )
    if source.is_symlink():
        source = source.resolve()
    return source


def _no_extra(function: str, kwargs: dict[str, Any]) -> None:
    unknown = sorted(set(kwargs) - _IGNORED)
    if unknown:
        raise InvalidValueError(f"{function}() got unexpected arguments {unknown}. See help(Run.{function}).")


def _stem(path: Path) -> str:
    """``file.tar.gz`` → ``file`` (Polyaxon's default name)."""
    name = path.name
    return name.split(".", 1)[0] if not name.startswith(".") and "." in name else name


def _producer(run: Any) -> dict[str, Any]:
    from labbook.artifacts.publish import default_producer

    env = run._record.get("env") or {}
    code = run._record.get("code") or {}
    fallback = default_producer()
    return {"kind": "run", "run": run.uuid, "name": run.name, "project": run.project,
            "user": env.get("user") or fallback["user"], "host": env.get("hostname") or fallback["host"],
            "git_commit": code.get("commit")}


def _pinned(run: Any, values: Any, what: str) -> Any:
    """Store URIs resolved to pinned ones (``...@uid``); ArtifactVersions to their URI."""
    from labbook.artifacts.api import resolve

    def pin(value: Any) -> str:
        if hasattr(value, "uri") and hasattr(value, "uid"):
            return value.uri
        if is_store_uri(value):
            return resolve(_context(run), value).uri
        raise InvalidValueError(f"{what} takes store URIs or artifact versions; got {value!r:.60}.")

    if values is None:
        return None
    if isinstance(values, dict):
        return {check_name(k, f"{what} name"): pin(v) for k, v in values.items()}
    return [pin(v) for v in ([values] if isinstance(values, str) else values)]


def _artifact_path(run: Any, call: str | None) -> str:
    from labbook.artifacts.api import project_settings
    from labbook.artifacts.paths import resolve_artifact_path

    ctx = _context(run)
    return resolve_artifact_path(run._settings, run.project, call=call,
                                 run={"uuid": run.uuid, "name": run.name, "meta": run._record.get("meta")},
                                 project_settings=project_settings(ctx.catalog, run.project))


def _record_lineage(run: Any, artifacts: list[RunArtifact]) -> list[dict[str, Any]]:
    """Append to the run's lineage.jsonl (the record), then index (repairable by a rebuild)."""
    from labbook.artifacts.catalog import index_lineage, lineage_row

    records = [a.to_record() for a in artifacts]
    append_lineage(run._folder.lineage_file, records)
    try:
        index_lineage(_context(run).catalog, [lineage_row(run.project, run.uuid, r) for r in records])
    except Exception as error:  # noqa: BLE001 - the folder is the record; 'labbook index --rebuild' repairs
        run._index_errors.append(f"{type(error).__name__}: {error}")
    return records


def _register(run: Any, source: Path, key: str, kind: str, *, labels: Any = None, summary: Any = None,
              meta: Any = None, sources: Any = None, links: Any = None, format: str | None = None,
              description: str | None = None, artifact_path: str | None = None):
    from labbook.artifacts.publish import publish

    check_key(key)
    explicit = _pinned(run, sources, "sources") or []
    consumed = [u for u in _state(run)["consumed"] if u not in explicit]
    version, _created = publish(
        run._settings, run.project, key, kind, source, artifact_path=_artifact_path(run, artifact_path),
        producer=_producer(run), labels=_json_dict(labels, "labels"), summary=_json_dict(summary, "summary"),
        meta=meta, sources=[{"uri": u} for u in explicit + consumed], links=_pinned(run, links, "links"),
        format=format, description=description, catalog=_context(run).catalog,
    )
    return version


def _json_dict(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidValueError(f"{what} must be a dict, got {type(value).__name__} ({value!r:.60}).")
    try:
        return orjson.loads(orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS))
    except TypeError as error:
        raise InvalidValueError(f"{what} must hold JSON values (numbers, text, lists, dicts): {error}.") from None


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        from labbook.artifacts.registry import ArtifactStore

        ArtifactStore(path.parent).remove(str(path))
    elif path.exists() or path.is_symlink():
        path.unlink()


def _move_into(source: Path, dest: Path) -> None:
    """Move (rename where possible) ``source`` to ``dest``, replacing what was there."""
    if source.resolve() == dest.resolve():
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove(dest)
    shutil.move(str(source), str(dest))


def _copy_into(source: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove(dest)
    if source.is_dir():
        shutil.copytree(source, dest)
    else:
        shutil.copy2(source, dest)


def _outputs_dest(run: Any, rel_path: str | None, file_name: str) -> Path:
    base = run._folder.outputs_path(rel_path) if rel_path else run._folder.outputs
    return safe_join(base, file_name, "file name")


def _log_path(run: Any, function: str, source: Path, name: str, kind: str, *, summary: Any, step: Any,
              timestamp: Any, rel_path: str | None, event_value: dict[str, Any], **register: Any):
    """The shared body of log_artifact and log_model."""
    from labbook.artifacts.publish import file_ext

    # Resolve (and so validate) where the bytes go before touching the user's file.
    register["artifact_path"] = _artifact_path(run, register.get("artifact_path"))
    if step is not None:
        dest = run._folder.asset_path(kind, name, step, file_ext(source, source.is_dir()) or None)
        _copy_into(source, dest)
    else:
        if rel_path is not None:
            safe_join(run._folder.outputs, rel_path)
        dest = _outputs_dest(run, rel_path, source.name)
        _move_into(source, dest)
    version = _register(run, dest, key_from_name(name), kind, summary=summary, **register)
    rel = run._folder.relative(dest)
    if step is not None:
        value = {**event_value, "path": rel, "uri": version.uri, "hash": version.hash, "size": version.size}
        run._emit(kind, name, value, step, timestamp)
    else:
        lineage_summary = {**_json_dict(summary, "summary"), **{k: v for k, v in event_value.items() if k not in ("kind", "spec")},
                           "hash": version.hash[:12], "size": version.size}
        _record_lineage(run, [RunArtifact(name=name, kind=kind, path=rel, summary=lineage_summary,
                                          uri=version.uri, uid=version.uid)])
    return version


# -- Polyaxon's artifact calls -------------------------------------------------------------


def log_artifact(self, path: str, name: str | None = None, kind: Any = None, summary: dict | None = None,
                 step: int | None = None, timestamp: Any = None, rel_path: str | None = None,
                 skip_hash_calculation: bool = False, *, labels: dict | None = None,
                 sources: Any = None, links: Any = None, description: str | None = None,
                 artifact_path: str | None = None, **kwargs: Any) -> Any:
    """Log a file or folder; returns its catalogued ``ArtifactVersion``.

    ``run.log_artifact("file.csv", kind="csv", step=3)`` copies it to
    ``assets/csv/file_3.csv`` with an event; without ``step`` it moves under ``outputs/``
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

    Without ``step`` it moves to ``outputs/model/`` (or ``outputs/<rel_path>/``). The typed
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
        version = log_artifact(self, str(extra), name=key, kind="dir" if extra.is_dir() else "file",
                               rel_path=extra_rel, step=step, timestamp=timestamp)
        all_links[extra_name] = version.uri
    model_labels = {**({"framework": framework} if framework else {}), **_json_dict(labels, "labels")}
    self.log_meta(has_model=True)
    return _log_path(self, "log_model", source, name, "model", summary=summary, step=step, timestamp=timestamp,
                     rel_path=rel_path if rel_path is not None or step is not None else "model",
                     event_value={"framework": framework, "spec": _json_dict(summary, "summary")},
                     labels=model_labels, sources=sources, links=all_links, description=description,
                     artifact_path=artifact_path, meta=meta)


def _log_table(run: Any, function: str, data: Any, name: str, kind: str, *, format: str, rel_path: str | None,
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


def log_affinity(self, *args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError(
        "log_affinity() is not part of labbook's artifact API; log the data with log_artifact() "
        "or log_dataset() instead."
    )


# -- lineage-only references -----------------------------------------------------------------


def _ref(run: Any, function: str, path: Any, kind: str, name: str | None, hash: str | None, content: Any,
         summary: Any, is_input: bool, rel_path: str | None, skip_hash_calculation: bool) -> dict[str, Any]:
    run._check_open(function)
    summary = _json_dict(summary, "summary")
    if is_store_uri(path):
        from labbook.artifacts.api import resolve

        version = resolve(_context(run), path)
        if is_input:
            _state(run)["consumed"].append(version.uri)
        artifact = RunArtifact(name=name or version.key, kind=kind, path=None, summary=summary,
                               is_input=is_input, uri=version.uri, uid=version.uid)
        return _record_lineage(run, [artifact])[0]
    recorded = None
    local = None
    if path is not None:
        text = os.fspath(path)
        if "://" in text and not text.startswith("file://"):
            recorded = text
        else:
            local = Path(text.removeprefix("file://")).expanduser().absolute()
            try:
                recorded = run._folder.relative(local)
            except ValueError:
                recorded = str(local)
    if rel_path is not None:
        safe_join(run._folder.path, rel_path)
        recorded = Path(rel_path).as_posix()
    if name is None:
        if path is None:
            raise InvalidValueError(f"{function}() needs a name or a path.")
        name = Path(str(path).rstrip("/")).name or str(path)
    check_name(name, "lineage name")
    digest = hash
    if digest is None and content is not None:
        digest = short_hash(content=content)
    if digest is None and local is not None and local.exists() and not skip_hash_calculation and kind != "tensorboard":
        digest = short_hash(local)
    if digest is not None:
        summary["hash"] = digest
    artifact = RunArtifact(name=name, kind=kind, path=recorded, summary=summary, is_input=is_input)
    return _record_lineage(run, [artifact])[0]


def log_artifact_ref(self, path: str, kind: Any, name: str | None = None, hash: str | None = None,
                     content: Any = None, summary: dict | None = None, is_input: bool = False,
                     rel_path: str | None = None, skip_hash_calculation: bool = False) -> Any:
    """Record lineage for a file, folder or URL saved elsewhere (``s3://bucket/key`` is kept as given)."""
    return _ref(self, "log_artifact_ref", path, kind_value(kind, "file"), name, hash, content, summary,
                is_input, rel_path, skip_hash_calculation)


def log_model_ref(self, path: str, name: str | None = None, framework: str | None = None,
                  summary: dict | None = None, is_input: bool = False, rel_path: str | None = None,
                  skip_hash_calculation: bool = False) -> Any:
    """``log_artifact_ref`` with kind ``model`` and ``summary.framework``."""
    summary = {**_json_dict(summary, "summary"), **({"framework": framework} if framework else {})}
    self.log_meta(has_model=True)
    return _ref(self, "log_model_ref", path, "model", name, None, None, summary, is_input, rel_path,
                skip_hash_calculation)


def log_file_ref(self, path: str, name: str | None = None, hash: str | None = None, content: Any = None,
                 summary: dict | None = None, is_input: bool = False, rel_path: str | None = None,
                 skip_hash_calculation: bool = False) -> Any:
    return _ref(self, "log_file_ref", path, "file", name, hash, content, summary, is_input, rel_path,
                skip_hash_calculation)


def log_dir_ref(self, path: str, name: str | None = None, hash: str | None = None,
                summary: dict | None = None, is_input: bool = False, rel_path: str | None = None,
                skip_hash_calculation: bool = False) -> Any:
    return _ref(self, "log_dir_ref", path, "dir", name, hash, None, summary, is_input, rel_path,
                skip_hash_calculation)


def log_data_ref(self, name: str, hash: str | None = None, path: str | None = None, content: Any = None,
                 summary: dict | None = None, is_input: bool = True, skip_hash_calculation: bool = False) -> Any:
    """Record a dataset this run used (an input by default): hash ``content`` or the file at ``path``."""
    return _ref(self, "log_data_ref", path, "data", name, hash, content, summary, is_input, None,
                skip_hash_calculation)


def log_code_ref(self, code_ref: dict | None = None, is_input: bool = True) -> Any:
    """Record the code version (commit, branch, url) as an input; nothing outside git."""
    self._check_open("log_code_ref")
    code = code_ref or self._record.get("code")
    if not code:
        from labbook.capture.code import capture_code

        code = capture_code()[0]
    commit = (code or {}).get("commit")
    if not commit:
        return None
    summary = {"commit": commit, "branch": code.get("branch"), "url": code.get("url") or code.get("remote")}
    return _record_lineage(self, [RunArtifact(name=commit, kind="coderef", summary=summary, is_input=is_input)])[0]


def log_env(self, rel_path: str | None = None, content: dict | None = None) -> Any:
    """Write the environment to ``outputs/<rel_path or env.json>`` and record it (kind ``env``)."""
    self._check_open("log_env")
    if content is None:
        content = self._record.get("env")
    if not content:
        from labbook.capture.env import capture_env

        content = capture_env()
    data = orjson.dumps(_json_dict(content, "content"), option=orjson.OPT_INDENT_2)
    dest = self._folder.outputs_path(rel_path or "env.json")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    rel = self._folder.relative(dest)
    artifact = RunArtifact(name="env", kind="env", path=rel, summary={"hash": short_hash(content=data)})
    return _record_lineage(self, [artifact])[0]


def log_tensorboard_ref(self, path: str, name: str = "tensorboard", is_input: bool = False,
                        rel_path: str | None = None) -> Any:
    """Record the TensorBoard log folder, once per run (later calls do nothing)."""
    self._check_open("log_tensorboard_ref")
    state = _state(self)
    if state["tensorboard"]:
        return None
    record = _ref(self, "log_tensorboard_ref", path, "tensorboard", name, None, None, None, is_input,
                  rel_path, True)
    state["tensorboard"] = True
    self.log_meta(has_tensorboard=True)
    return record


def get_tensorboard_path(self, rel_path: str = "tensorboard", use_store_path: bool = False) -> str:
    """``outputs/<rel_path>`` (created), recorded once as the run's TensorBoard folder."""
    path = self._folder.outputs_path(rel_path)
    path.mkdir(parents=True, exist_ok=True)
    log_tensorboard_ref(self, str(path))
    return str(path)


def log_artifact_lineage(self, body: Any, async_req: bool = True) -> Any:
    """Append raw lineage: a dict, a ``RunArtifact`` or a list of them (store URIs are pinned)."""
    self._check_open("log_artifact_lineage")
    items = body if isinstance(body, (list, tuple)) else [body]
    artifacts = []
    for item in items:
        artifact = RunArtifact.from_value(item)
        artifact.kind = kind_value(artifact.kind, "artifact")
        if artifact.uri and is_store_uri(artifact.uri):
            from labbook.artifacts.api import resolve

            version = resolve(_context(self), artifact.uri)
            artifact.uri, artifact.uid = version.uri, version.uid
            if artifact.is_input:
                _state(self)["consumed"].append(version.uri)
        artifacts.append(artifact)
    return _record_lineage(self, artifacts)


def use_artifact(self, uri: str, name: str | None = None) -> Any:
    """Record that this run consumes the version ``uri`` names, and return it.

    Versions this run logs afterwards list it in their ``sources``:
    ``train = run.use_artifact("store://datasets/churn/train:latest"); df = train.as_df()``.
    """
    from labbook.artifacts.api import resolve

    self._check_open("use_artifact")
    version = resolve(_context(self), uri)
    _state(self)["consumed"].append(version.uri)
    _record_lineage(self, [RunArtifact(name=name or version.key, kind=version.kind, is_input=True,
                                       uri=version.uri, uid=version.uid,
                                       summary={"hash": version.hash[:12], "version": version.version})])
    return version


def _promote(run: Any, function: str, version: str, kinds: set[str] | None, description: str | None,
             tags: Any, artifacts: Any, force: bool) -> list[Any]:
    from labbook.artifacts.api import list_artifacts, tag_artifact

    run._check_open(function)
    names = [check_tag(version)] + [check_tag(t) for t in ([tags] if isinstance(tags, str) else list(tags or []))]
    produced = list_artifacts(run.project, producer=run.uuid, limit=None, home=run._settings.home)
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
    from labbook.artifacts.api import _Context
    from labbook.artifacts.catalog import find_version

    ctx = _Context(settings=run._settings)
    for candidate in chosen:
        for tag in names:
            holder = find_version(ctx.catalog, candidate.project, candidate.key, tag=tag)
            if holder is not None and holder["uid"] != candidate.uid and not force:
                raise RunStateError(f"Tag {tag!r} of {candidate.project}/{candidate.key} is on v{holder['number']}; "
                                    "pass force=True to move it.")
    promoted = []
    for candidate in chosen:
        for tag in names:
            tagged = tag_artifact(candidate.uri, tag, home=run._settings.home)
        promoted.append(tagged)
    return promoted


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


RUN_METHODS = (
    "get_tensorboard_path", "log_affinity", "log_artifact", "log_artifact_lineage", "log_artifact_ref",
    "log_code_ref", "log_data_ref", "log_dataset", "log_dir_ref", "log_env", "log_feature_set",
    "log_feature_vector", "log_file_ref", "log_model", "log_model_ref", "log_plot",
    "log_tensorboard_ref", "promote_to_artifact_version", "promote_to_model_version", "use_artifact",
)
