// The right-hand panel: the selected node's form, or the campaign's problems and dry run.
import { useMemo } from "react";

import { formatNumber, gettext, interpolate } from "../../../customers/frontend/lib/i18n.js";

function ProblemList({ problems, onFocusNode }) {
  if (!problems.length) return null;
  return (
    <section className="problem-list" aria-labelledby="problems-title">
      <h2 id="problems-title">{gettext("Problems to fix")}</h2>
      <ul>
        {problems.map((p) => (
          <li key={p.field + p.message}>
            {p.node ? (
              <button type="button" className="linklike" data-problem-node={p.node}
                      onClick={() => onFocusNode(p.node)}>
                <strong>{p.node}</strong>: {p.message}
              </button>
            ) : <span><strong>{p.field}</strong>: {p.message}</span>}
          </li>
        ))}
      </ul>
    </section>
  );
}

function Figures({ rows }) {
  return (
    <dl className="fields">
      {rows.map(([label, value]) => (
        <div key={label} className="contents"><dt>{label}</dt><dd>{value}</dd></div>
      ))}
    </dl>
  );
}

function DryRun({ simulation }) {
  if (!simulation) return null;
  const money = (v) => formatNumber(v, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const channels = Object.entries(simulation.messages_by_channel || {})
    .map(([channel, n]) => `${channel} ${formatNumber(n)}`).join(", ") || "0";
  return (
    <section className="dry-run" aria-labelledby="dry-run-title" data-dry-run>
      <h2 id="dry-run-title">{gettext("Dry run")}</h2>
      <Figures rows={[
        [gettext("Eligible now"), formatNumber(simulation.eligible)],
        [gettext("Would enter"), formatNumber(simulation.entering)],
        [gettext("Held out"), formatNumber(simulation.holdout)],
        [gettext("Coupons"), formatNumber(simulation.coupons)],
        [gettext("Coupon budget"), money(simulation.discount_budget)],
        [gettext("Messages"), channels],
      ]} />
      {simulation.notes?.length > 0 && (
        <ul className="help">{simulation.notes.map((note) => <li key={note}>{note}</li>)}</ul>)}
    </section>
  );
}

function useConnections(selected, edges) {
  return useMemo(() => {
    if (!selected) return {};
    return Object.fromEntries(edges.filter((e) => e.source === selected.id)
      .map((e) => [e.sourceHandle, e.target]));
  }, [selected, edges]);
}

function useCandidates(selected, nodes, types) {
  // Recomputed when the list of nodes or their names changed, not when one moved.
  const key = selected ? nodes.map((n) => `${n.id}\u0001${n.data.label ?? ""}`).join("\u0002") : "";
  return useMemo(() => (key === "" ? [] : nodes
    .filter((n) => types[n.data.kind]?.category !== "trigger")
    .map((n) => ({ id: n.id,
      name: `${n.data.label || types[n.data.kind]?.label || n.data.kind} (${n.id})` }))),
  [key, types]); // eslint-disable-line react-hooks/exhaustive-deps
}

export function SidePanel({ selected, types, problems, nodes, edges, simulation, onFocusNode,
  onBlur, renderConfig }) {
  const connections = useConnections(selected, edges);
  const candidates = useCandidates(selected, nodes, types);
  const nodeProblems = selected ? problems.filter((p) => p.node === selected.id) : [];
  return (
    <aside className="canvas-panel" aria-label={gettext("Details")} onBlur={onBlur}>
      {selected ? renderConfig(selected, nodeProblems, connections, candidates) : (
        <>
          <ProblemList problems={problems} onFocusNode={onFocusNode} />
          <DryRun simulation={simulation} />
          {!problems.length && !simulation && (
            <p className="help">{nodes.length
              ? gettext("Select a node to configure it.")
              : gettext("Drag a trigger from the palette to start.")}</p>)}
          <p className="help small">{interpolate(gettext("%(n)s nodes, %(m)s connections"),
            { n: nodes.length, m: edges.length })}</p>
        </>
      )}
    </aside>
  );
}
