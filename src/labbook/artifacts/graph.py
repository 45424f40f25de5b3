"""The lineage graph: runs, artifact versions and references, with edges along the data flow.

Edges point the way data moved: ``artifact -> run`` ("input": the run consumed it),
``run -> artifact`` ("output": the run produced it), ``source -> artifact`` ("source": made from)
and ``model -> plot`` ("link"). Upstream means against the edges, downstream along them::

    graph = labbook.get_lineage("store://plots/churn/report", direction="up")
    [n.label for n in graph.nodes.values()]
    graph.to_dict()   # {"root": ..., "nodes": [...], "edges": [...]}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labbook.catalog import artifacts as queries
from labbook.errors import InvalidValueError, NotFoundError
from labbook.store.kinds import prefix_for
from labbook.store.uri import StoreUri, is_store_uri


@dataclass
class LineageNode:
    id: str
    type: str  # "run", "artifact" or "ref"
    label: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LineageEdge:
    source: str
    target: str
    relation: str  # "input", "output", "source" or "link"


@dataclass
class LineageGraph:
    root: str
    nodes: dict[str, LineageNode]
    edges: list[LineageEdge]

    def to_dict(self) -> dict[str, Any]:
        return {"root": self.root,
                "nodes": [vars(n) for n in self.nodes.values()],
                "edges": [vars(e) for e in self.edges]}

    def runs(self) -> list[LineageNode]:
        return [n for n in self.nodes.values() if n.type == "run"]

    def artifacts(self) -> list[LineageNode]:
        return [n for n in self.nodes.values() if n.type == "artifact"]

    def __contains__(self, node_id: str) -> bool:
        return node_id in self.nodes


def _edge_from_lineage(row: dict[str, Any]) -> LineageEdge:
    run = f"run:{row['run_uuid']}"
    other = f"artifact:{row['uid']}" if row.get("uid") else f"ref:{row['path'] or row['name']}"
    return LineageEdge(other, run, "input") if row["is_input"] else LineageEdge(run, other, "output")


def _touching(ctx: Any, frontier: set[str]) -> set[LineageEdge]:
    runs = [n[4:] for n in frontier if n.startswith("run:")]
    uids = [n[9:] for n in frontier if n.startswith("artifact:")]
    paths = [n[4:] for n in frontier if n.startswith("ref:")]
    edges: set[LineageEdge] = set()
    if runs:
        edges |= {_edge_from_lineage(r) for r in queries.edges_of_runs(ctx.catalog, runs)}
    if uids or paths:
        edges |= {_edge_from_lineage(r) for r in queries.edges_of_artifacts(ctx.catalog, uids, paths)}
    produced = (queries.producers(ctx.catalog, runs=runs) if runs else []) + \
        (queries.producers(ctx.catalog, uids=uids) if uids else [])
    edges |= {LineageEdge(f"run:{run}", f"artifact:{uid}", "output") for uid, run in produced}
    if uids:
        edges |= {LineageEdge(f"artifact:{r['from_uid']}", f"artifact:{r['to_uid']}", r["relation"])
                  for r in queries.links_of(ctx.catalog, uids)}
    return edges


def _walk(ctx: Any, root: str, upstream: bool, depth: int | None) -> tuple[set[str], set[LineageEdge]]:
    seen, kept, frontier, hops = {root}, set(), {root}, 0
    while frontier and (depth is None or hops < depth):
        step = set()
        for edge in _touching(ctx, frontier):
            near, far = (edge.target, edge.source) if upstream else (edge.source, edge.target)
            if near in frontier:
                kept.add(edge)
                if far not in seen:
                    step.add(far)
        seen |= step
        frontier, hops = step, hops + 1
    return seen, kept


def _root(ctx: Any, start: Any) -> str:
    from labbook.artifacts.api import resolve

    if hasattr(start, "uid") and hasattr(start, "key"):
        return f"artifact:{start.uid}"
    if hasattr(start, "uuid") and getattr(start, "uuid", None):
        return f"run:{start.uuid}"
    if is_store_uri(start):
        return f"artifact:{resolve(ctx, start).uid}"
    if isinstance(start, str):
        text = start.replace("-", "").lower()
        if ctx.catalog.run_path(text):
            return f"run:{text}"
        matches = ctx.catalog.find_runs_by_prefix(text) if len(text) >= 4 else []
        if len(matches) == 1:
            return f"run:{matches[0]}"
        raise NotFoundError(f"{start!r} is neither a store URI nor a known run id. Pass "
                            "store://<kind>/<project>/<key>[:tag][@uid] or a run uuid (see 'labbook runs ls').")
    raise InvalidValueError(f"get_lineage() takes a store URI, a run uuid or a run/version object; got {start!r:.60}.")


REF_SUMMARY_RUNS = 50  # run folders read at most for the summaries of a graph's references


def _refs(ctx: Any, idents: list[str]) -> dict[str, dict[str, Any]]:
    """Name, kind and summary of each reference, as its run logged it. The catalog keeps name
    and kind; the summary is read from the logging run's lineage.jsonl (the record)."""
    from labbook.artifacts.lineage import read_lineage
    from labbook.store.layout import RunFolder

    refs = queries.refs_named(ctx.catalog, idents) if idents else {}
    wanted: dict[str, list[str]] = {}
    for ident, ref in refs.items():
        wanted.setdefault(ref.pop("run"), []).append(ident)
    for run, names in list(wanted.items())[:REF_SUMMARY_RUNS]:
        path = ctx.catalog.run_path(run)
        if not path:
            continue
        for record in read_lineage(RunFolder(Path(path)).lineage_file):
            ident = record.get("path") or record.get("name")
            if not record.get("uid") and ident in names and record.get("summary"):
                refs[ident]["summary"] = record["summary"]
    return refs


def _describe(ctx: Any, ids: set[str]) -> dict[str, LineageNode]:
    uids = [n[9:] for n in ids if n.startswith("artifact:")]
    runs = [n[4:] for n in ids if n.startswith("run:")]
    records = queries.records_by_uid(ctx.catalog, uids)
    refs = _refs(ctx, [n[4:] for n in ids if n.startswith("ref:")])
    run_rows = queries.run_nodes(ctx.catalog, runs)
    nodes = {}
    for node_id in sorted(ids):
        kind, _, ident = node_id.partition(":")
        if kind == "artifact":
            r = records.get(ident)
            if r is None:
                nodes[node_id] = LineageNode(node_id, "artifact", f"(deleted) {ident[:12]}", {"uid": ident})
                continue
            uri = str(StoreUri(prefix_for(r["kind"]), r["project"], r["key"], uid=r["uid"]))
            nodes[node_id] = LineageNode(node_id, "artifact", f"{r['key']}:v{r['number']}",
                                         {"uri": uri, "uid": ident, "key": r["key"], "version": r["number"],
                                          "kind": r["kind"], "project": r["project"]})
        elif kind == "run":
            row = run_rows.get(ident)
            nodes[node_id] = LineageNode(node_id, "run", (row.name if row and row.name else ident[:12]),
                                         {"uuid": ident, "project": row.project if row else None,
                                          "name": row.name if row else None,
                                          "status": row.status if row else None})
        else:
            named = refs.get(ident, {})
            nodes[node_id] = LineageNode(node_id, "ref", ident, {"path": ident, **named})
    return nodes


def build_lineage(ctx: Any, start: Any, direction: str = "both", depth: int | None = None) -> LineageGraph:
    if direction not in ("up", "down", "both"):
        raise InvalidValueError(f"direction={direction!r}; use 'up', 'down' or 'both'.")
    if depth is not None and (not isinstance(depth, int) or depth < 0):
        raise InvalidValueError(f"depth={depth!r}; use a whole number of hops >= 0, or None for no limit.")
    root = _root(ctx, start)
    ids, edges = {root}, set()
    for upstream in ((True,) if direction == "up" else (False,) if direction == "down" else (True, False)):
        seen, kept = _walk(ctx, root, upstream, depth)
        ids |= seen
        edges |= kept
    ordered = sorted(edges, key=lambda e: (e.source, e.target, e.relation))
    return LineageGraph(root, _describe(ctx, ids), ordered)
