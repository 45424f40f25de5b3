/// <reference lib="webworker" />
// Lays out the lineage graph off the main thread: in {id, nodes, edges}, out {id, layout}.
import { layoutGraph, type GraphEdge, type GraphNode } from "./layout";

self.onmessage = (event: MessageEvent<{ id: number; nodes: GraphNode[]; edges: GraphEdge[] }>) => {
  const { id, nodes, edges } = event.data;
  try {
    (self as unknown as Worker).postMessage({ id, layout: layoutGraph(nodes, edges) });
  } catch (error) {
    (self as unknown as Worker).postMessage({ id, error: String(error) });
  }
};
