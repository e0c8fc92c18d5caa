// One line saying what a node does, for the node's face ("Dormant customers", "3 days").
import { gettext, interpolate } from "../../../customers/frontend/lib/i18n.js";
import { choiceLabel } from "./labels.js";

function duration(config) {
  const parts = [];
  if (config?.days) parts.push(interpolate(gettext("%(n)s d"), { n: config.days }));
  if (config?.hours) parts.push(interpolate(gettext("%(n)s h"), { n: config.hours }));
  if (config?.minutes) parts.push(interpolate(gettext("%(n)s min"), { n: config.minutes }));
  return parts.join(" ") || gettext("no time set");
}

function named(rows, id) {
  if (id === undefined || id === null) return gettext("not chosen");
  return rows?.[id]?.name ?? `#${id}`;
}

function ruleSummary(rule, lookups) {
  const args = rule?.in_segment;
  if (Array.isArray(args) && args[0]?.var === "segment") {
    return interpolate(gettext("in %(segment)s"), { segment: named(lookups.segments, args[1]) });
  }
  return rule ? gettext("a segment rule") : gettext("not chosen");
}

const SUMMARIES = {
  condition: (c, l) => ruleSummary(c.rule, l),
  segment_entered: (c, l) => named(l.segments, c.segment),
  segment_exited: (c, l) => named(l.segments, c.segment),
  scheduled: (c, l) => named(l.segments, c.segment),
  lifecycle_changed: (c) => (c.to_stage ? choiceLabel(c.to_stage) : gettext("not chosen")),
  event: (c) => c.name || gettext("not chosen"),
  wait: (c) => duration(c),
  wait_until: (c) => c.time || gettext("not chosen"),
  wait_for_date: (c) => c.field || gettext("not chosen"),
  wait_for_event: (c) => `${c.kind === "order" ? choiceLabel("order") : c.name || ""} · ${
    duration(c.timeout)}`,
  split: (c) => (c.branches || []).map((b) => `${b.port} ${b.percent}%`).join(" · "),
  issue_coupon: (c, l) => named(l.definitions, c.definition),
  send_message: (c, l) => `${c.channel ? choiceLabel(c.channel) : ""} · ${
    named(l.templates, c.template)}`,
  call_webhook: (c, l) => named(l.webhooks, c.webhook),
  add_tag: (c) => c.tag || "",
  remove_tag: (c) => c.tag || "",
  set_attribute: (c) => (c.key ? `${c.key} = ${JSON.stringify(c.value ?? null)}` : ""),
};

export function nodeSummary(kind, config, lookups) {
  const summary = SUMMARIES[kind];
  return summary ? summary(config || {}, lookups || {}) : "";
}
