// Server validation problems (a 400's `errors`, the check endpoint's `problems`) sorted by
// the node they concern, so the canvas can mark it. Pure.
//
//   {field: "graph.nodes[wait-1].config.days", message: "..."}   -> node wait-1
//   {field: "graph.edges[3]", message: "..."}                    -> the source of edge 3
//   {field: "graph.nodes", message: "..."}                       -> the graph as a whole

const NODE_FIELD = /^(?:draft_graph|graph)\.nodes\[([^\]]+)\](?:\.(.*))?$/;
const EDGE_FIELD = /^(?:draft_graph|graph)\.edges\[(\d+)\]/;

// One problem as {node, key, field, message}: `node` null for the graph as a whole,
// `key` the config key it names (or null). `storedEdges`: the edges as they were sent.
export function locateProblem(problem, storedEdges = [], storedNodes = []) {
  const field = problem.field || "";
  const message = problem.message || "";
  const nodeMatch = NODE_FIELD.exec(field);
  if (nodeMatch) {
    let node = nodeMatch[1];
    // A node whose id itself is bad is named by its index.
    if (/^\d+$/.test(node) && storedNodes[Number(node)]) node = storedNodes[Number(node)].id;
    const rest = nodeMatch[2] || "";
    const key = rest.startsWith("config.") ? rest.slice("config.".length).split(/[.[]/)[0] : null;
    return { node, key: key || null, field, message };
  }
  const edgeMatch = EDGE_FIELD.exec(field);
  if (edgeMatch) {
    const edge = storedEdges[Number(edgeMatch[1])];
    return { node: edge ? edge.source : null, key: null, field, message };
  }
  return { node: problem.node ?? null, key: null, field, message };
}

export function locateProblems(problems, graph = {}) {
  return (problems || []).map((problem) => locateProblem(problem, graph.edges, graph.nodes));
}

// {node id: [problem, ...]} for the nodes that have any.
export function problemsByNode(located) {
  const byNode = {};
  for (const problem of located) {
    if (problem.node) (byNode[problem.node] ||= []).push(problem);
  }
  return byNode;
}
