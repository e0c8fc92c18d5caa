// Copy and paste of a selection: the selected nodes and the edges between them, pasted with
// fresh ids (edges follow their nodes), shifted so the copy does not hide the original. Pure.
import { edgeId, freshId } from "./convert.js";

export const PASTE_OFFSET = { x: 40, y: 40 };

export function copySelection(nodes, edges) {
  const picked = nodes.filter((node) => node.selected);
  const ids = new Set(picked.map((node) => node.id));
  return {
    nodes: picked.map((node) => ({ id: node.id, position: node.position, data: node.data,
      type: node.type })),
    edges: edges.filter((edge) => ids.has(edge.source) && ids.has(edge.target))
      .map((edge) => ({ source: edge.source, target: edge.target,
        sourceHandle: edge.sourceHandle })),
  };
}

// The clipboard's nodes and edges under new ids not in `takenIds` (a Set of the canvas's
// node ids), selected, `times` offsets away from where they were copied.
export function pasteClipboard(clipboard, takenIds, times = 1) {
  const taken = new Set(takenIds);
  const newIds = {};
  const nodes = clipboard.nodes.map((node) => {
    const id = freshId(node.data.kind, taken);
    taken.add(id);
    newIds[node.id] = id;
    return {
      ...node,
      id,
      selected: true,
      position: { x: node.position.x + PASTE_OFFSET.x * times,
        y: node.position.y + PASTE_OFFSET.y * times },
      data: structuredClone(node.data),
    };
  });
  const edges = clipboard.edges.map((edge) => {
    const source = newIds[edge.source];
    const target = newIds[edge.target];
    return { id: edgeId(source, edge.sourceHandle, target), source, target,
      sourceHandle: edge.sourceHandle, data: {}, selected: true };
  });
  return { nodes, edges };
}
