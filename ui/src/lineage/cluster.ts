/** Siblings clustered past a handful (main thread: no layout library here). */

export interface GraphNode {
  id: string;
  type: string; // run | artifact | ref | cluster
  label: string;
  members?: string[];
}

export interface GraphEdge {
  source: string;
  target: string;
  relation: string;
}

/** Past this many leaf siblings of one type on one side of a node, they become one cluster. */
export const CLUSTER_THRESHOLD = 5;

/**
 * Leaves (one edge) of the same type hanging off the same node on the same side are drawn as a
 * cluster node ("37 runs") when there are more than `threshold`; ids in `expanded` stay open.
 */
export function clusterGraph(nodes: GraphNode[], edges: GraphEdge[], root: string, threshold = CLUSTER_THRESHOLD,
                             expanded: ReadonlySet<string> = new Set()): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const degree = new Map<string, number>();
  for (const e of edges) {
    degree.set(e.source, (degree.get(e.source) ?? 0) + 1);
    degree.set(e.target, (degree.get(e.target) ?? 0) + 1);
  }
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const groups = new Map<string, { hub: string; side: "in" | "out"; type: string; members: string[]; relation: string }>();
  for (const e of edges) {
    for (const [leaf, hub, side] of [[e.target, e.source, "out"], [e.source, e.target, "in"]] as const) {
      const node = byId.get(leaf);
      if (!node || leaf === root || degree.get(leaf) !== 1) continue;
      const id = `cluster:${hub}:${side}:${node.type}`;
      const group = groups.get(id) ?? { hub, side, type: node.type, members: [], relation: e.relation };
      group.members.push(leaf);
      groups.set(id, group);
    }
  }
  const clusterOf = new Map<string, string>();
  const clusters: GraphNode[] = [];
  for (const [id, g] of groups) {
    if (g.members.length <= threshold || expanded.has(id)) continue;
    clusters.push({ id, type: "cluster", label: `${g.members.length} ${g.type}${g.type === "ref" ? "s" : g.type.endsWith("s") ? "" : "s"}`, members: g.members });
    for (const m of g.members) clusterOf.set(m, id);
  }
  if (!clusters.length) return { nodes, edges };
  const seen = new Set<string>();
  const outEdges: GraphEdge[] = [];
  for (const e of edges) {
    const source = clusterOf.get(e.source) ?? e.source;
    const target = clusterOf.get(e.target) ?? e.target;
    const key = `${source}→${target}`;
    if (seen.has(key)) continue;
    seen.add(key);
    outEdges.push({ source, target, relation: e.relation });
  }
  return { nodes: [...nodes.filter((n) => !clusterOf.has(n.id)), ...clusters], edges: outEdges };
}

