// Auto-layout with dagre: top to bottom, in the order of the edges. Pure (returns new nodes).
import dagre from "@dagrejs/dagre";

export const NODE_WIDTH = 220;
export const NODE_HEIGHT = 84;

export function autoLayout(nodes, edges, { direction = "TB" } = {}) {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: direction, nodesep: 40, ranksep: 60 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const node of nodes) {
    graph.setNode(node.id, {
      width: node.measured?.width ?? NODE_WIDTH,
      height: node.measured?.height ?? NODE_HEIGHT,
    });
  }
  for (const edge of edges) graph.setEdge(edge.source, edge.target);
  dagre.layout(graph);
  return nodes.map((node) => {
    const placed = graph.node(node.id);
    const width = node.measured?.width ?? NODE_WIDTH;
    const height = node.measured?.height ?? NODE_HEIGHT;
    // dagre gives centres; React Flow wants top-left corners.
    return { ...node, position: { x: Math.round(placed.x - width / 2),
      y: Math.round(placed.y - height / 2) } };
  });
}
