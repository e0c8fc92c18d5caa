import { describe, expect, it } from "vitest";

import {
  FLOW_NODE,
  flowToGraph,
  freshId,
  graphToFlow,
  newNode,
  portsOf,
  schemaDefaults,
  typesByKey,
} from "./convert.js";
import { PALETTE, winback } from "./fixtures.test-data.js";

describe("graphToFlow", () => {
  it("turns stored nodes into React Flow nodes at their stored positions", () => {
    const { nodes } = graphToFlow(winback(), PALETTE);
    expect(nodes).toHaveLength(8);
    expect(nodes[1]).toEqual({
      id: "coupon", type: FLOW_NODE, position: { x: 0, y: 140 },
      data: { kind: "issue_coupon", config: { definition: 3 }, label: "15% off" },
    });
  });

  it("draws each edge from its port's handle", () => {
    const { edges } = graphToFlow(winback(), PALETTE);
    const notIssued = edges.find((edge) => edge.target === "none");
    expect(notIssued).toMatchObject({ source: "coupon", target: "none",
      sourceHandle: "not_issued" });
    expect(new Set(edges.map((edge) => edge.id)).size).toBe(edges.length);
  });

  it("draws an edge without a port from its source's only port", () => {
    const graph = winback();
    delete graph.edges[0].port;
    const { edges } = graphToFlow(graph, PALETTE);
    expect(edges[0].sourceHandle).toBe("next");
  });

  it("places nodes without a position on a grid, none on top of another", () => {
    const graph = winback();
    for (const node of graph.nodes) delete node.position;
    const { nodes } = graphToFlow(graph, PALETTE);
    const spots = nodes.map((node) => `${node.position.x},${node.position.y}`);
    expect(new Set(spots).size).toBe(nodes.length);
  });

  it("reads an empty or missing graph as an empty canvas", () => {
    expect(graphToFlow({}, PALETTE)).toEqual({ nodes: [], edges: [], viewport: null });
    expect(graphToFlow(null, PALETTE)).toEqual({ nodes: [], edges: [], viewport: null });
  });
});

describe("round trip", () => {
  it("gives back exactly the stored graph", () => {
    const { nodes, edges } = graphToFlow(winback(), PALETTE);
    expect(flowToGraph(nodes, edges)).toEqual(winback());
  });

  it("keeps stored edge ids, left-out ports, left-out configs and the viewport", () => {
    const graph = winback();
    graph.edges[0] = { id: "first", source: "dormant", target: "coupon" };
    delete graph.nodes[5].config;
    graph.viewport = { x: 10, y: -20, zoom: 0.75 };
    const flow = graphToFlow(graph, PALETTE);
    expect(flowToGraph(flow.nodes, flow.edges, flow.viewport)).toEqual(graph);
  });

  it("does not share objects with the stored graph's positions", () => {
    const graph = winback();
    const { nodes, edges } = graphToFlow(graph, PALETTE);
    nodes[0].position.x = 999;
    expect(graph.nodes[0].position.x).toBe(0);
    expect(flowToGraph(nodes, edges).nodes[0].position).toEqual({ x: 999, y: 0 });
  });

  it("writes the port of an edge drawn on the canvas", () => {
    const nodes = graphToFlow(winback(), PALETTE).nodes;
    const drawn = { id: "x", source: "order", target: "bought", sourceHandle: "happened",
      data: {} };
    expect(flowToGraph(nodes, [drawn]).edges).toEqual([
      { source: "order", port: "happened", target: "bought" }]);
  });

  it("writes a moved node's new position and an edited config", () => {
    const flow = graphToFlow(winback(), PALETTE);
    flow.nodes[3] = { ...flow.nodes[3], position: { x: 5, y: 6 },
      data: { ...flow.nodes[3].data, config: { kind: "order", timeout: { days: 5 } } } };
    const stored = flowToGraph(flow.nodes, flow.edges).nodes[3];
    expect(stored).toEqual({ id: "order", type: "wait_for_event", position: { x: 5, y: 6 },
      config: { kind: "order", timeout: { days: 5 } } });
  });
});

describe("ports", () => {
  const types = typesByKey(PALETTE);

  it("are the palette's for most types", () => {
    expect(portsOf("issue_coupon", {}, types)).toEqual(["issued", "not_issued"]);
    expect(portsOf("exit", {}, types)).toEqual([]);
    expect(portsOf("unknown", {}, types)).toEqual([]);
  });

  it("follow a split's branches", () => {
    const config = { branches: [{ port: "A", percent: 50 }, { port: "B", percent: 30 },
      { port: "C", percent: 20 }] };
    expect(portsOf("split", config, types)).toEqual(["A", "B", "C"]);
    expect(portsOf("split", {}, types)).toEqual(["A", "B"]);
  });
});

describe("new nodes", () => {
  it("start with the schema's defaults", () => {
    const wait = PALETTE.find((type) => type.type === "wait");
    expect(newNode(wait, "wait-1", { x: 1, y: 2 })).toEqual({
      id: "wait-1", type: FLOW_NODE, position: { x: 1, y: 2 },
      data: { kind: "wait", config: { days: 0, hours: 0, minutes: 0 } } });
  });

  it("leave out null defaults (the server reads a missing key as null)", () => {
    const schema = PALETTE.find((type) => type.type === "wait_for_event").config_schema;
    expect(schemaDefaults(schema)).toEqual({ kind: "event" });
  });

  it("get an id no other node has, as the server allows it", () => {
    const id = freshId("wait", new Set(["wait-1", "wait-2"]));
    expect(id).toBe("wait-3");
    expect(id).toMatch(/^[A-Za-z0-9_.:-]{1,64}$/);
  });
});
