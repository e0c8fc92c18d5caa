import { describe, expect, it } from "vitest";

import { locateProblem, locateProblems, problemsByNode } from "./problems.js";
import { winback } from "./fixtures.test-data.js";

describe("problems", () => {
  it("name the node and the config key of a save's 400", () => {
    expect(locateProblem({ field: "graph.nodes[order].config.timeout.days",
      message: "too long" })).toEqual({ node: "order", key: "timeout",
      field: "graph.nodes[order].config.timeout.days", message: "too long" });
  });

  it("name the node of a dry run's 400 and of a whole-node problem", () => {
    expect(locateProblem({ field: "draft_graph.nodes[wait-1]", message: "dangling" }))
      .toMatchObject({ node: "wait-1", key: null });
  });

  it("name an edge's source node", () => {
    const graph = winback();
    expect(locateProblem({ field: "graph.edges[2]", message: "bad" }, graph.edges))
      .toMatchObject({ node: "coupon" });
  });

  it("name the node of a bad id by its index", () => {
    const graph = winback();
    expect(locateProblem({ field: "graph.nodes[1].id", message: "bad id" }, [], graph.nodes))
      .toMatchObject({ node: "coupon" });
  });

  it("leave graph-wide problems on no node", () => {
    expect(locateProblem({ field: "graph.nodes", message: "one trigger" }).node).toBeNull();
    expect(locateProblem({ field: "name", message: "taken" }).node).toBeNull();
  });

  it("take the check endpoint's node when the field says nothing", () => {
    expect(locateProblem({ field: "graph", node: "x", message: "m" }).node).toBe("x");
  });

  it("group by node", () => {
    const located = locateProblems([
      { field: "graph.nodes[a]", message: "1" }, { field: "graph.nodes[a].config.x", message: "2" },
      { field: "graph.nodes[b]", message: "3" }, { field: "graph", message: "4" }]);
    const byNode = problemsByNode(located);
    expect(Object.keys(byNode)).toEqual(["a", "b"]);
    expect(byNode.a.map((p) => p.message)).toEqual(["1", "2"]);
  });
});
