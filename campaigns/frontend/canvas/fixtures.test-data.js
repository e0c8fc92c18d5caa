// A palette as GET /api/v1/flow-node-types/ serves it (the parts the canvas reads), and the
// dormant win-back graph as the canvas saves it, for the unit tests.

export const PALETTE = [
  { type: "segment_entered", label: "Entered a segment", category: "trigger", ports: ["next"],
    config_schema: { type: "object", properties: { segment: { type: "integer" } },
      required: ["segment"] } },
  { type: "wait", label: "Wait", category: "wait", ports: ["next"],
    config_schema: { type: "object", properties: {
      days: { type: "integer", default: 0 }, hours: { type: "integer", default: 0 },
      minutes: { type: "integer", default: 0 } } } },
  { type: "wait_for_event", label: "Wait for an event", category: "wait",
    ports: ["happened", "timeout"],
    config_schema: { type: "object", properties: {
      kind: { enum: ["order", "event"], default: "event" },
      name: { anyOf: [{ type: "string" }, { type: "null" }], default: null },
      timeout: { $ref: "#/$defs/Duration" } }, required: ["timeout"] } },
  { type: "split", label: "Random split (A/B)", category: "logic", ports: ["A", "B"],
    config_schema: { type: "object", properties: { branches: { type: "array" } } } },
  { type: "issue_coupon", label: "Issue a coupon", category: "action",
    ports: ["issued", "not_issued"],
    config_schema: { type: "object", properties: { definition: { type: "integer" } } } },
  { type: "send_message", label: "Send a message", category: "action", ports: ["next"],
    config_schema: { type: "object", properties: { channel: { enum: ["email", "sms"] },
      template: { type: "integer" } } } },
  { type: "exit", label: "Exit", category: "exit", ports: [],
    config_schema: { type: "object", properties: {} } },
];

export function winback() {
  return {
    nodes: [
      { id: "dormant", type: "segment_entered", config: { segment: 7 },
        position: { x: 0, y: 0 } },
      { id: "coupon", type: "issue_coupon", config: { definition: 3 },
        position: { x: 0, y: 140 }, label: "15% off" },
      { id: "mail", type: "send_message", config: { channel: "email", template: 4 },
        position: { x: -120, y: 280 } },
      { id: "order", type: "wait_for_event",
        config: { kind: "order", name: null, timeout: { days: 3 } },
        position: { x: -120, y: 420 } },
      { id: "remind", type: "send_message", config: { channel: "sms", template: 5 },
        position: { x: -240, y: 560 } },
      { id: "done", type: "exit", config: {}, position: { x: -240, y: 700 } },
      { id: "bought", type: "exit", config: {}, position: { x: 0, y: 560 } },
      { id: "none", type: "exit", config: {}, position: { x: 240, y: 280 } },
    ],
    edges: [
      { source: "dormant", port: "next", target: "coupon" },
      { source: "coupon", port: "issued", target: "mail" },
      { source: "coupon", port: "not_issued", target: "none" },
      { source: "mail", port: "next", target: "order" },
      { source: "order", port: "timeout", target: "remind" },
      { source: "order", port: "happened", target: "bought" },
      { source: "remind", port: "next", target: "done" },
    ],
  };
}
