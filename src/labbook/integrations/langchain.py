"""LangChain: a tracer that logs every finished LangChain call tree as a labbook trace
(``pip install 'labbook[langchain]'``; needs only ``langchain-core``).

::

    from labbook import tracking
    from labbook.integrations.langchain import Callback

    tracking.init(project="qa")
    chain = prompt | llm
    chain.invoke({"question": "2+2?"}, config={"callbacks": [Callback()]})
    tracking.end()

Each top-level call (a chain, an LLM, a tool...) becomes one ``span`` event (``log_trace``) named
after it, its nested calls as child spans. A span keeps the call's ``uuid``, ``name``, ``kind``
(``llm`` for LLMs and chat models, ``chain`` or ``agent`` for chains, ``tool``, ``retriever``,
``embedding``; none for prompts and parsers, whose LangChain ``run_type`` stays in the
metadata), ``started_at``/``finished_at``, ``status`` (``succeeded``/``failed``, with the error in
``status_conditions``), ``inputs``, ``outputs``, ``tags`` and ``metadata`` (LangChain's ``extra``
and, for LLMs, ``llm_output``). As in Polyaxon, the top-level call's inputs and outputs are also
merged into the run's inputs and outputs. LangChain objects in inputs and outputs (messages,
documents, prompt values) are stored as their LangChain serialization.
"""

from __future__ import annotations

from typing import Any

from labbook.integrations._common import jsonable, resolve_run
from labbook.media.optional import need

need("langchain_core", "labbook.integrations.langchain")
from langchain_core.load.dump import dumpd  # noqa: E402 - after the dependency check
from langchain_core.load.serializable import Serializable  # noqa: E402
from langchain_core.tracers.base import BaseTracer  # noqa: E402

_KINDS = {"llm": "llm", "chat_model": "llm", "chain": "chain", "tool": "tool", "retriever": "retriever",
          "embedding": "embedding"}


def _plain(value: Any) -> Any:
    """LangChain and pydantic objects as plain data, recursively; then JSON (or repr)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Serializable):
        return jsonable(dumpd(value))
    if hasattr(value, "model_dump"):
        return _plain(value.model_dump())
    return jsonable(value)


def span_from_run(lc_run: Any) -> dict[str, Any]:
    """A labbook span (a dict, see ``labbook.media.traces``) from a finished LangChain ``Run``."""
    run_type = getattr(lc_run, "run_type", None)
    kind = _KINDS.get(run_type)
    if kind == "chain" and "agent" in (lc_run.name or "").lower():
        kind = "agent"
    outputs = lc_run.outputs or {}
    metadata = {**(lc_run.extra or {}), "run_type": run_type}
    if kind == "llm":
        metadata["llm_output"] = outputs.get("llm_output")
    failed = lc_run.error is not None
    children = sorted(lc_run.child_runs or [], key=lambda child: child.start_time)
    return {
        "uuid": str(lc_run.id),
        "name": lc_run.name or run_type or "span",
        "kind": kind,
        "tags": list(lc_run.tags or []),
        "started_at": lc_run.start_time,
        "finished_at": lc_run.end_time,
        "status": "failed" if failed else "succeeded",
        "status_conditions": ([{"status": "failed", "reason": "SpanFailed", "message": str(lc_run.error),
                                "time": lc_run.end_time}] if failed else None),
        "metadata": _plain(metadata),
        "inputs": _plain(lc_run.inputs or {}),
        "outputs": _plain(outputs),
        "children": [span_from_run(child) for child in children],
    }


class Callback(BaseTracer):
    """A LangChain callback handler that logs each finished call tree with ``log_trace``.

    ``chain.invoke(inputs, config={"callbacks": [Callback()]})``; ``run=`` picks the run
    (default: the active one, or a new one).
    """

    def __init__(self, run: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.run = resolve_run(run)

    def _persist_run(self, run: Any) -> None:
        self.run.log_trace(span_from_run(run))
