import { describe, expect, it } from "vitest";

import { graphToFlow } from "./convert.js";
import { PALETTE, winback } from "./fixtures.test-data.js";
import { autoLayout, NODE_HEIGHT } from "./layout.js";

describe("auto-layout", () => {
  it("puts every node below the one its edge comes from", () => {
    const { nodes, edges } = graphToFlow(winback(), PALETTE);
    const placed = Object.fromEntries(autoLayout(nodes, edges).map((n) => [n.id, n.position]));
    for (const edge of edges) {
      expect(placed[edge.target].y).toBeGreaterThanOrEqual(placed[edge.source].y + NODE_HEIGHT);
    }
  });

  it("keeps the ids and data and does not move the input", () => {
    const { nodes, edges } = graphToFlow(winback(), PALETTE);
    const before = structuredClone(nodes);
    const laid = autoLayout(nodes, edges);
    expect(nodes).toEqual(before);
    expect(laid.map((n) => [n.id, n.data])).toEqual(before.map((n) => [n.id, n.data]));
  });
});
