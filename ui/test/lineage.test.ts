import { expect, it } from "vitest";
import { clusterGraph, layeredLayout, layoutGraph, type GraphEdge, type GraphNode } from "../src/lineage/layout";

function star(runs: number): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const nodes: GraphNode[] = [{ id: "artifact:d", type: "artifact", label: "data:v1" }];
  const edges: GraphEdge[] = [];
  for (let i = 0; i < runs; i++) {
    nodes.push({ id: `run:${i}`, type: "run", label: `run-${i}` });
    edges.push({ source: "artifact:d", target: `run:${i}`, relation: "input" });
  }
  return { nodes, edges };
}

it("keeps a handful of siblings and clusters more", () => {
  const few = star(5);
  expect(clusterGraph(few.nodes, few.edges, "artifact:d").nodes).toHaveLength(6);
  const many = star(40);
  const out = clusterGraph(many.nodes, many.edges, "artifact:d");
  expect(out.nodes.map((n) => n.id)).toEqual(["artifact:d", "cluster:artifact:d:out:run"]);
  expect(out.nodes[1].label).toBe("40 runs");
  expect(out.nodes[1].members).toHaveLength(40);
  expect(out.edges).toEqual([{ source: "artifact:d", target: "cluster:artifact:d:out:run", relation: "input" }]);
});

it("an expanded cluster shows its members, and the root is never clustered", () => {
  const many = star(8);
  expect(clusterGraph(many.nodes, many.edges, "artifact:d", 5, new Set(["cluster:artifact:d:out:run"])).nodes).toHaveLength(9);
  const out = clusterGraph(many.nodes, many.edges, "run:3");
  expect(out.nodes.map((n) => n.id)).toContain("run:3");
  expect(out.nodes.find((n) => n.type === "cluster")!.members).toHaveLength(7);
});

it("lays upstream to the left of downstream", () => {
  const nodes: GraphNode[] = [
    { id: "ref:raw", type: "ref", label: "raw.csv" }, { id: "run:p", type: "run", label: "prepare" },
    { id: "artifact:t", type: "artifact", label: "train:v1" },
  ];
  const edges: GraphEdge[] = [
    { source: "ref:raw", target: "run:p", relation: "input" }, { source: "run:p", target: "artifact:t", relation: "output" },
  ];
  const layout = layoutGraph(nodes, edges);
  const x = Object.fromEntries(layout.nodes.map((n) => [n.id, n.x]));
  expect(x["ref:raw"]).toBeLessThan(x["run:p"]);
  expect(x["run:p"]).toBeLessThan(x["artifact:t"]);
  expect(layout.edges).toHaveLength(2);
  expect(layout.edges[0].points.length).toBeGreaterThan(1);
});

it("lays out 1,000 nodes with every node placed", () => {
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  for (let i = 0; i < 1000; i++) {
    nodes.push({ id: `n${i}`, type: i % 2 ? "run" : "artifact", label: `node-${i}` });
    if (i > 0) edges.push({ source: `n${Math.floor((i - 1) / 3)}`, target: `n${i}`, relation: "output" });
  }
  const layout = layoutGraph(nodes, edges);
  expect(layout.nodes.every((n) => Number.isFinite(n.x) && Number.isFinite(n.y))).toBe(true);
  console.log(`1,000-node layout in node: ${layout.ms.toFixed(0)} ms`);
});

it("the layered layout of a large graph keeps every edge pointing right", () => {
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  for (let i = 0; i < 1000; i++) {
    nodes.push({ id: `n${i}`, type: "run", label: `node-${i}` });
    if (i > 0) edges.push({ source: `n${Math.floor((i - 1) / 3)}`, target: `n${i}`, relation: "output" });
  }
  edges.push({ source: "n999", target: "n0", relation: "output" }); // a cycle does not hang it
  const layout = layeredLayout(nodes, edges);
  const x = new Map(layout.nodes.map((n) => [n.id, n.x]));
  expect(layout.nodes).toHaveLength(1000);
  expect(edges.slice(0, -1).every((e) => x.get(e.source)! < x.get(e.target)!)).toBe(true);
  console.log(`1,000-node layered layout in node: ${layout.ms.toFixed(0)} ms`);
});
