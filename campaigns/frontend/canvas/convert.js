// The stored campaign graph <-> React Flow's nodes and edges. Pure: no React, no DOM.
//
// Stored (campaigns/flows/graph.py):
//   {nodes: [{id, type, config, position, label}], edges: [{id, source, port, target}],
//    viewport}
// React Flow:
//   node {id, type: "flow", position, data: {kind, config, label}}
//   edge {id, source, target, sourceHandle: <port>, data: {omitPort, storedId}}
//
// Keys the stored graph left out stay left out (an edge without `port` or `id`, a node without
// `config` or `label`), so a graph with positions round-trips exactly. A node without a
// position gets one (a grid; the canvas can lay it out with dagre).

export const FLOW_NODE = "flow";
const GRID_X = 260;
const GRID_Y = 140;
const GRID_COLUMNS = 5;

// {type: node type} from the palette (GET /api/v1/flow-node-types/) as a lookup.
export function typesByKey(nodeTypes) {
  return Object.fromEntries((nodeTypes || []).map((nodeType) => [nodeType.type, nodeType]));
}

// A node's ports given its config: a split's are its branches, the others the palette's.
export function portsOf(kind, config, types) {
  if (kind === "split") {
    const branches = config?.branches;
    if (Array.isArray(branches) && branches.length) {
      return branches.map((branch) => String(branch?.port ?? ""));
    }
  }
  return types[kind]?.ports ?? [];
}

function gridPosition(index) {
  return { x: (index % GRID_COLUMNS) * GRID_X, y: Math.floor(index / GRID_COLUMNS) * GRID_Y };
}

export function edgeId(source, port, target) {
  return `e:${source}:${port ?? ""}:${target}`;
}

function toFlowNode(stored, index) {
  const data = { kind: stored.type };
  if ("config" in stored) data.config = stored.config;
  if ("label" in stored) data.label = stored.label;
  return {
    id: stored.id,
    type: FLOW_NODE,
    position: stored.position ? { x: stored.position.x, y: stored.position.y } : gridPosition(index),
    data,
  };
}

function toFlowEdge(stored, types, kinds) {
  // An edge may leave `port` out when its source has one port: draw it from that port.
  const ports = portsOf(kinds[stored.source], null, types);
  const handle = stored.port ?? (ports.length === 1 ? ports[0] : null);
  const data = {};
  if (!("port" in stored)) data.omitPort = true;
  if ("id" in stored) data.storedId = stored.id;
  return {
    id: stored.id ?? edgeId(stored.source, handle, stored.target),
    source: stored.source,
    target: stored.target,
    sourceHandle: handle,
    data,
  };
}

// The stored graph as React Flow's {nodes, edges, viewport}. `nodeTypes`: the palette.
export function graphToFlow(graph, nodeTypes = []) {
  const types = typesByKey(nodeTypes);
  const storedNodes = Array.isArray(graph?.nodes) ? graph.nodes : [];
  const storedEdges = Array.isArray(graph?.edges) ? graph.edges : [];
  const kinds = Object.fromEntries(storedNodes.map((node) => [node.id, node.type]));
  return {
    nodes: storedNodes.map(toFlowNode),
    edges: storedEdges.map((edge) => toFlowEdge(edge, types, kinds)),
    viewport: graph?.viewport ?? null,
  };
}

function toStoredNode(node) {
  const stored = {
    id: node.id,
    type: node.data.kind,
    position: { x: node.position.x, y: node.position.y },
  };
  if (node.data.config !== undefined) stored.config = node.data.config;
  if (node.data.label !== undefined) stored.label = node.data.label;
  return stored;
}

function toStoredEdge(edge) {
  const data = edge.data || {};
  const stored = { source: edge.source, target: edge.target };
  // An edge drawn on the canvas always names its port; a stored one keeps its form.
  if (!data.omitPort && edge.sourceHandle) stored.port = edge.sourceHandle;
  if (data.storedId !== undefined) stored.id = data.storedId;
  return stored;
}

// React Flow's nodes and edges (and the viewport, when given) as the graph the API stores.
export function flowToGraph(nodes, edges, viewport = null) {
  const graph = { nodes: nodes.map(toStoredNode), edges: edges.map(toStoredEdge) };
  if (viewport) graph.viewport = { x: viewport.x, y: viewport.y, zoom: viewport.zoom };
  return graph;
}

// A fresh node of a palette type, its config filled with the schema's defaults.
export function newNode(nodeType, id, position) {
  return {
    id,
    type: FLOW_NODE,
    position: { x: position.x, y: position.y },
    data: { kind: nodeType.type, config: schemaDefaults(nodeType.config_schema) },
  };
}

// A node id not in `taken` (a Set): "<type>-<n>", as the validator allows (1-64 of
// [A-Za-z0-9_.:-]).
export function freshId(kind, taken) {
  const base = kind.replace(/[^A-Za-z0-9_.:-]/g, "").slice(0, 50) || "node";
  for (let n = 1; ; n += 1) {
    const id = `${base}-${n}`;
    if (!taken.has(id)) return id;
  }
}

// The config's defaults as the schema declares them (only the ones with a `default`), so a
// new wait node starts at {days: 0, hours: 0, minutes: 0}.
export function schemaDefaults(schema) {
  const config = {};
  for (const [key, property] of Object.entries(schema?.properties || {})) {
    if ("default" in property && property.default !== null) config[key] = property.default;
  }
  return config;
}
