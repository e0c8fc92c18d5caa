// One node on the canvas. Memoised: React Flow re-renders it only when its own node object
// changed (moved, selected, edited) or its own overlay changed; nothing here walks the graph.
import { Handle, Position } from "@xyflow/react";
import { memo, useContext } from "react";

import { formatNumber, gettext, interpolate, ngettext } from "../../../customers/frontend/lib/i18n.js";
import { CanvasContext } from "./context.js";
import { portsOf } from "./convert.js";
import { portLabel } from "./labels.js";
import { useOverlay } from "./overlay.js";
import { nodeSummary } from "./summary.js";

function Counts({ counts }) {
  if (!counts) return null;
  const lines = [interpolate(gettext("%(n)s entered"), { n: formatNumber(counts.entered) })];
  if (counts.here !== undefined) {
    lines.push(interpolate(gettext("%(n)s here now"), { n: formatNumber(counts.here) }));
  }
  if (counts.coupons) {
    lines.push(interpolate(gettext("%(n)s coupons, budget %(budget)s"), {
      n: formatNumber(counts.coupons),
      budget: formatNumber(counts.budget, { minimumFractionDigits: 2 }) }));
  }
  if (counts.messages) {
    lines.push(interpolate(gettext("%(n)s messages"), { n: formatNumber(counts.messages) }));
  }
  return (
    <div className={`flow-node-counts ${counts.live ? "live" : "dry"}`} data-counts>
      {lines.map((line) => <div key={line}>{line}</div>)}
    </div>
  );
}

function Ports({ id, ports, counts, connectable }) {
  return (
    <div className="flow-node-ports">
      {ports.map((port, index) => (
        <div className="flow-node-port" key={port}
             style={{ left: `${((index + 1) * 100) / (ports.length + 1)}%` }}>
          <span className="flow-node-port-label">
            {portLabel(port)}
            {counts?.ports?.[port] !== undefined ? ` · ${formatNumber(counts.ports[port])}` : ""}
          </span>
          <Handle type="source" position={Position.Bottom} id={port} isConnectable={connectable}
                  aria-label={interpolate(gettext("Port %(port)s of %(node)s"),
                    { port: portLabel(port), node: id })} />
        </div>
      ))}
    </div>
  );
}

function FlowNode({ id, data, selected, isConnectable }) {
  const { types, lookups, overlay } = useContext(CanvasContext);
  const { problems, counts } = useOverlay(overlay, id);
  const type = types[data.kind];
  const ports = portsOf(data.kind, data.config, types);
  const category = type?.category ?? "unknown";
  const classes = ["flow-node", `cat-${category}`, selected ? "selected" : "",
    problems ? "has-problems" : ""].join(" ");
  return (
    <div className={classes} data-node-id={id} data-kind={data.kind}>
      {category !== "trigger" && (
        <Handle type="target" position={Position.Top} isConnectable={isConnectable}
                aria-label={interpolate(gettext("Into %(node)s"), { node: id })} />
      )}
      <div className="flow-node-title">{data.label || type?.label || data.kind}</div>
      <div className="flow-node-summary">{nodeSummary(data.kind, data.config, lookups)}</div>
      <div className="flow-node-id">{id}</div>
      {problems && (
        <div className="flow-node-problems" role="note" title={problems.map((p) => p.message).join("\n")}>
          {interpolate(ngettext("%(n)s problem", "%(n)s problems", problems.length),
            { n: problems.length })}
        </div>
      )}
      <Counts counts={counts} />
      <Ports id={id} ports={ports} counts={counts} connectable={isConnectable} />
    </div>
  );
}

export default memo(FlowNode);
