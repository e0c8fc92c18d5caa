import { describe, expect, it } from "vitest";

import { graphToFlow } from "./convert.js";
import { copySelection, PASTE_OFFSET, pasteClipboard } from "./clipboard.js";
import { PALETTE, winback } from "./fixtures.test-data.js";

function selected(ids) {
  const flow = graphToFlow(winback(), PALETTE);
  return { ...flow, nodes: flow.nodes.map((node) => ({ ...node, selected: ids.includes(node.id) })) };
}

describe("copy", () => {
  it("takes the selected nodes and only the edges between them", () => {
    const { nodes, edges } = selected(["coupon", "mail", "order"]);
    const clip = copySelection(nodes, edges);
    expect(clip.nodes.map((node) => node.id)).toEqual(["coupon", "mail", "order"]);
    expect(clip.edges).toEqual([
      { source: "coupon", target: "mail", sourceHandle: "issued" },
      { source: "mail", target: "order", sourceHandle: "next" },
    ]);
  });
});

describe("paste", () => {
  it("gives every node a fresh id and remaps the edges to them", () => {
    const { nodes, edges } = selected(["coupon", "mail"]);
    const taken = new Set(nodes.map((node) => node.id));
    const pasted = pasteClipboard(copySelection(nodes, edges), taken);
    expect(pasted.nodes.map((node) => node.id)).toEqual(["issue_coupon-1", "send_message-1"]);
    expect(pasted.edges).toEqual([{ id: "e:issue_coupon-1:issued:send_message-1",
      source: "issue_coupon-1", target: "send_message-1", sourceHandle: "issued", data: {},
      selected: true }]);
    for (const node of pasted.nodes) expect(taken.has(node.id)).toBe(false);
  });

  it("shifts the copy and selects it", () => {
    const { nodes, edges } = selected(["mail"]);
    const [node] = pasteClipboard(copySelection(nodes, edges), new Set(["mail"]), 2).nodes;
    expect(node.position).toEqual({ x: -120 + 2 * PASTE_OFFSET.x, y: 280 + 2 * PASTE_OFFSET.y });
    expect(node.selected).toBe(true);
  });

  it("pastes twice without an id clash and without sharing configs", () => {
    const { nodes, edges } = selected(["order"]);
    const clip = copySelection(nodes, edges);
    const first = pasteClipboard(clip, new Set(nodes.map((node) => node.id)));
    const taken = new Set([...nodes, ...first.nodes].map((node) => node.id));
    const second = pasteClipboard(clip, taken, 2);
    expect(first.nodes[0].id).toBe("wait_for_event-1");
    expect(second.nodes[0].id).toBe("wait_for_event-2");
    second.nodes[0].data.config.timeout.days = 9;
    expect(first.nodes[0].data.config.timeout.days).toBe(3);
    expect(nodes.find((node) => node.id === "order").data.config.timeout.days).toBe(3);
  });

  it("pastes nothing from an empty clipboard", () => {
    expect(pasteClipboard({ nodes: [], edges: [] }, new Set())).toEqual({ nodes: [], edges: [] });
  });
});
