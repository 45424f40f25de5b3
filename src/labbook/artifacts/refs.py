"""Lineage-only references (Polyaxon's ``_ref`` calls), raw lineage and ``use_artifact``.

They copy nothing: a location outside the run folder (``s3://bucket/key``, another path) is
recorded as given, one inside it relative to the run; a ``store://`` URI is resolved and pinned::

    run.log_data_ref(name="raw", path="s3://bucket/raw.csv")     # an input by default
    train = run.use_artifact("store://datasets/churn/train:latest")
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from labbook._values import check_flag
from labbook.artifacts.lineage import RunArtifact
from labbook.artifacts.runlog import _context, _json_dict, _record_lineage, _state
from labbook.errors import InvalidTypeError, InvalidValueError
from labbook.store.files import write_atomic
from labbook.store.hashing import short_hash
from labbook.store.kinds import kind_value
from labbook.store.layout import safe_join
from labbook.store.names import check_name
from labbook.store.uri import is_store_uri
from labbook.writer.surface import RunSurface


def _ref(run: RunSurface, function: str, path: Any, kind: str, name: str | None, hash: str | None, content: Any,
         summary: Any, is_input: bool, rel_path: str | None, skip_hash_calculation: bool) -> dict[str, Any]:
    run._check_open(function)
    _check_ref_arguments(function, path=path, name=name, hash=hash, rel_path=rel_path)
    check_flag(function, "is_input", is_input)
    check_flag(function, "skip_hash_calculation", skip_hash_calculation)
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


def _check_ref_arguments(function: str, **arguments: Any) -> None:
    for argument, value in arguments.items():
        types = (str, os.PathLike) if argument in ("path", "rel_path") else (str,)
        if value is not None and not isinstance(value, types):
            wanted = "a path (str or Path) or URL" if argument == "path" else "a str"
            raise InvalidTypeError(
                f"{function}({argument}=...) got {type(value).__name__} ({value!r:.60}); pass {wanted}."
            )


class ArtifactRefMethods(RunSurface):
    """Run's artifact-reference methods: ``Run`` inherits them through ``ArtifactMethods``."""

    def log_artifact_ref(self, path: str, kind: Any = None, name: str | None = None, hash: str | None = None,
                         content: Any = None, summary: dict | None = None, is_input: bool = False,
                         rel_path: str | None = None, skip_hash_calculation: bool = False) -> Any:
        """Record lineage for a file, folder or URL saved elsewhere (``s3://bucket/key`` is kept as given);
        ``kind`` defaults to ``file``."""
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
        """Record lineage for a file saved by you (kind ``file``); nothing is copied.

        ``run.log_file_ref(run.get_outputs_path("preds.csv"), name="predictions")``
        """
        return _ref(self, "log_file_ref", path, "file", name, hash, content, summary, is_input, rel_path,
                    skip_hash_calculation)

    def log_dir_ref(self, path: str, name: str | None = None, hash: str | None = None,
                    summary: dict | None = None, is_input: bool = False, rel_path: str | None = None,
                    skip_hash_calculation: bool = False) -> Any:
        """Record lineage for a folder saved by you (kind ``dir``, name: the folder's name).

        ``run.log_dir_ref(run.get_outputs_path("checkpoints", is_dir=True))``
        """
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
        self._folder.make_dirs(dest.parent)
        write_atomic(dest, data)
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
        ArtifactRefMethods.log_tensorboard_ref(self, str(path))  # unguarded: a part of this call
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
