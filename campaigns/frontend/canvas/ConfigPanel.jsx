// The side panel of the selected node: a form generated from its type's config JSON Schema
// (pickers for segments, coupon definitions, templates and webhooks), its name on the canvas,
// and where each of its ports leads (the keyboard's way to connect nodes).
import { lazy, memo, Suspense, useState } from "react";

import { gettext, interpolate } from "../../../customers/frontend/lib/i18n.js";
import { useRuleFields } from "./api.js";
import { portsOf } from "./convert.js";
import { choiceLabel, fieldLabel, portLabel, weekdayNames } from "./labels.js";

const PICKERS = { segment: "segments", definition: "definitions", template: "templates",
  webhook: "webhooks" };

function resolve(property, root) {
  const ref = property?.$ref;
  if (!ref) return property || {};
  const name = ref.split("/").pop();
  return { ...root?.$defs?.[name], ...property, $ref: undefined };
}

// A property's own shape: {base, nullable} where an anyOf of one type and null is unwrapped.
function unwrap(property, root) {
  const resolved = resolve(property, root);
  const options = resolved.anyOf;
  if (!options) return { base: resolved, nullable: false };
  const others = options.filter((option) => option.type !== "null");
  const nullable = others.length < options.length;
  if (others.length === 1) {
    return { base: { ...resolve(others[0], root), title: resolved.title,
      description: resolved.description }, nullable };
  }
  return { base: { ...resolved, mixed: true }, nullable };
}

function parseLoose(text) {
  try {
    const value = JSON.parse(text);
    if (value === null || ["number", "boolean", "string"].includes(typeof value)) return value;
  } catch {
    // not JSON: the text itself
  }
  return text;
}

function PickerInput({ id, name, value, rows, onChange, disabled, describedBy, required }) {
  return (
    <select id={id} value={value ?? ""} disabled={disabled} aria-describedby={describedBy}
            aria-required={required || undefined}
            onChange={(e) => onChange(e.target.value === "" ? undefined : Number(e.target.value))}>
      <option value="">{gettext("— choose —")}</option>
      {rows.map((row) => <option key={row.id} value={row.id}>{row.name}</option>)}
      {value !== undefined && value !== null && !rows.some((row) => row.id === value) && (
        <option value={value}>{interpolate(gettext("#%(id)s (not available)"), { id: value })}</option>
      )}
    </select>
  );
}

function WeekdaysInput({ id, value, onChange, disabled }) {
  const chosen = new Set(value || []);
  const names = weekdayNames();
  const toggle = (day) => {
    const next = new Set(chosen);
    if (next.has(day)) next.delete(day); else next.add(day);
    onChange(next.size ? [...next].sort() : undefined);
  };
  return (
    <div className="weekdays" id={id}>
      {names.map((label, day) => (
        <label key={label} className="check">
          <input type="checkbox" checked={chosen.has(day)} disabled={disabled}
                 onChange={() => toggle(day)} />
          {label}
        </label>
      ))}
    </div>
  );
}

function JsonInput({ id, value, onChange, disabled, describedBy }) {
  const [text, setText] = useState(() => (value === undefined ? "" : JSON.stringify(value, null, 2)));
  const [error, setError] = useState("");
  const commit = (next) => {
    setText(next);
    if (!next.trim()) { setError(""); onChange(undefined); return; }
    try {
      const parsed = JSON.parse(next);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error();
      setError("");
      onChange(parsed);
    } catch {
      setError(gettext("Not a JSON object yet."));
    }
  };
  return (
    <>
      <textarea id={id} rows={4} value={text} disabled={disabled} aria-describedby={describedBy}
                aria-invalid={error ? true : undefined} onChange={(e) => commit(e.target.value)} />
      {error && <p className="field-error">{error}</p>}
    </>
  );
}

// The commonest condition, "is the customer in this segment?", picked from a list; any
// other rule built with the segment builder's conditions, or typed as JsonLogic.
function segmentOfRule(rule) {
  const args = rule?.in_segment;
  return Array.isArray(args) && args[0]?.var === "segment" && Object.keys(rule).length === 1
    ? args[1] : undefined;
}

const RuleEditor = lazy(() => import("../../../segments/frontend/builder/RuleEditor.jsx"));

function RuleInput({ id, value, onChange, disabled, describedBy, pickers }) {
  // Each editor starts again from the value when another one changed it.
  const [versions, setVersions] = useState({ builder: 0, json: 0 });
  const registry = useRuleFields();
  const changed = (rule, by) => {
    onChange(rule);
    setVersions((now) => ({ builder: now.builder + (by === "builder" ? 0 : 1),
      json: now.json + (by === "json" ? 0 : 1) }));
  };
  const segment = segmentOfRule(value);
  const pick = (raw) => changed(raw === "" ? undefined
    : { in_segment: [{ var: "segment" }, Number(raw)] }, "picker");
  return (
    <>
      <label htmlFor={`${id}-segment`} className="sub">{gettext("Customer is in segment")}</label>
      <select id={`${id}-segment`} value={segment ?? ""} disabled={disabled}
              onChange={(e) => pick(e.target.value)}>
        <option value="">{value && segment === undefined ? gettext("— another rule (below) —")
          : gettext("— choose —")}</option>
        {(pickers.segments || []).map((row) => <option key={row.id} value={row.id}>{row.name}</option>)}
      </select>
      <p className="sub">{gettext("Or build the rule")}</p>
      <div className="rule-editor" data-rule-editor>
        {registry === null && <p className="muted">{gettext("Loading…")}</p>}
        {registry === false && <p className="muted">{gettext(
          "The rule builder could not load; the rule can still be typed as JsonLogic.")}</p>}
        {registry && (
          <Suspense fallback={<p className="muted">{gettext("Loading…")}</p>}>
            <RuleEditor key={versions.builder} registry={registry} segments={pickers.segments}
                        value={value} disabled={disabled}
                        onChange={(rule) => changed(rule, "builder")} />
          </Suspense>
        )}
      </div>
      <details className="rule-json">
        <summary>{gettext("Edit as JsonLogic")}</summary>
        <label htmlFor={id} className="sub">{gettext("Or any segment rule, as JsonLogic")}</label>
        <JsonInput key={versions.json} id={id} value={value} disabled={disabled}
                   describedBy={describedBy} onChange={(rule) => changed(rule, "json")} />
      </details>
    </>
  );
}

function BranchesInput({ id, value, onChange, disabled }) {
  const branches = value || [];
  const set = (index, key, raw) => {
    const next = branches.map((branch, i) => (i === index
      ? { ...branch, [key]: key === "percent" ? (raw === "" ? "" : Number(raw)) : raw } : branch));
    onChange(next);
  };
  const letter = String.fromCharCode(65 + branches.length);
  return (
    <div className="branches" id={id}>
      {branches.map((branch, index) => (
        <div className="branch" key={index}>
          <label>{gettext("Port")}
            <input type="text" value={branch.port ?? ""} disabled={disabled}
                   onChange={(e) => set(index, "port", e.target.value)} /></label>
          <label>{gettext("Percent")}
            <input type="number" min="0" max="100" value={branch.percent ?? ""} disabled={disabled}
                   onChange={(e) => set(index, "percent", e.target.value)} /></label>
          <button type="button" disabled={disabled || branches.length <= 2}
                  onClick={() => onChange(branches.filter((_b, i) => i !== index))}>
            {gettext("Remove")}</button>
        </div>
      ))}
      <button type="button" disabled={disabled || branches.length >= 10}
              onClick={() => onChange([...branches, { port: letter, percent: 0 }])}>
        {gettext("Add a branch")}</button>
    </div>
  );
}

function numberOrNothing(raw) {
  return raw === "" ? undefined : Number(raw);
}

function ScalarInput({ id, name, base, nullable, value, onChange, disabled, describedBy, required }) {
  const common = { id, disabled, "aria-describedby": describedBy,
    "aria-required": required || undefined };
  if (base.enum) {
    return (
      <select {...common} value={value ?? ""}
              onChange={(e) => onChange(e.target.value === "" ? (nullable ? null : undefined)
                : e.target.value)}>
        <option value="">{nullable ? gettext("— any —") : gettext("— choose —")}</option>
        {base.enum.map((choice) => <option key={choice} value={choice}>{choiceLabel(choice)}</option>)}
      </select>
    );
  }
  if (base.type === "boolean") {
    return <input {...common} type="checkbox" checked={Boolean(value)}
                  onChange={(e) => onChange(e.target.checked)} />;
  }
  if (base.type === "integer" || base.type === "number") {
    return <input {...common} type="number" value={value ?? ""}
                  min={base.minimum ?? undefined} max={base.maximum ?? undefined}
                  step={base.type === "integer" ? 1 : "any"}
                  onChange={(e) => onChange(numberOrNothing(e.target.value))} />;
  }
  if (base.format === "date-time") {
    return <input {...common} type="datetime-local" value={(value || "").slice(0, 16)}
                  onChange={(e) => onChange(e.target.value || (nullable ? null : undefined))} />;
  }
  if (name === "time") {
    return <input {...common} type="time" value={value ?? ""}
                  onChange={(e) => onChange(e.target.value || (nullable ? null : undefined))} />;
  }
  if (base.mixed) {
    return <input {...common} type="text" value={value === undefined || value === null ? ""
      : typeof value === "string" ? value : JSON.stringify(value)}
                  onChange={(e) => onChange(e.target.value === "" ? (nullable ? null : undefined)
                    : parseLoose(e.target.value))} />;
  }
  return <input {...common} type="text" value={value ?? ""}
                placeholder={base.examples?.[0] ?? undefined}
                onChange={(e) => onChange(e.target.value === "" ? (nullable ? null : undefined)
                  : e.target.value)} />;
}

function FieldInput(props) {
  const { name, base, root, value, onChange, pickers, config, disabled, id } = props;
  if (PICKERS[name] && (base.type === "integer")) {
    let rows = pickers[PICKERS[name]] || [];
    if (name === "template" && config.channel) rows = rows.filter((r) => r.channel === config.channel);
    if (name === "definition") rows = rows.filter((r) => !r.shared_code);
    return <PickerInput {...props} rows={rows} />;
  }
  if (base.type === "array" && base.items?.$ref) {
    return <BranchesInput id={id} value={value} onChange={onChange} disabled={disabled} />;
  }
  if (base.type === "array") return <WeekdaysInput id={id} value={value} onChange={onChange} disabled={disabled} />;
  if (base.type === "object" && base.properties) {
    return (
      <div className="nested" id={id}>
        {Object.entries(base.properties).map(([key, property]) => (
          <SchemaField key={key} name={key} property={property} root={root}
                       value={value?.[key]} idPrefix={id} pickers={pickers} config={config}
                       disabled={disabled} required={false} problems={[]}
                       onChange={(next) => {
                         const merged = { ...(value || {}) };
                         if (next === undefined) delete merged[key]; else merged[key] = next;
                         onChange(merged);
                       }} />
        ))}
      </div>
    );
  }
  if (name === "rule") {
    return <RuleInput id={id} value={value} onChange={onChange} disabled={disabled}
                      describedBy={props.describedBy} pickers={pickers} />;
  }
  if (base.type === "object") return <JsonInput id={id} value={value} onChange={onChange} disabled={disabled} describedBy={props.describedBy} />;
  return <ScalarInput {...props} />;
}

function SchemaField({ name, property, root, value, onChange, idPrefix, pickers, config,
  disabled, required, problems }) {
  const { base, nullable } = unwrap(property, root);
  const id = `${idPrefix}-${name}`;
  const helpId = base.description ? `${id}-help` : undefined;
  // A group of inputs gets a legend; one input (a JSON object too) a label.
  const grouped = (base.type === "object" && base.properties) || base.type === "array"
    || name === "rule";
  const Wrapper = grouped ? "fieldset" : "div";
  const label = fieldLabel(name, base);
  return (
    <Wrapper className={`config-field${problems.length ? " invalid" : ""}`} data-field={name}>
      {grouped ? <legend>{label}{required && <span aria-hidden="true" className="required"> *</span>}</legend>
        : <label htmlFor={id}>{label}{required && <span aria-hidden="true" className="required"> *</span>}</label>}
      <FieldInput name={name} base={base} nullable={nullable} root={root} value={value}
                  onChange={onChange} pickers={pickers} config={config} disabled={disabled}
                  id={id} describedBy={helpId} required={required} />
      {base.description && <p className="help" id={helpId}>{base.description}</p>}
      {problems.map((p) => <p className="field-error" key={p.field + p.message}>{p.message}</p>)}
    </Wrapper>
  );
}

function Connections({ nodeId, ports, connections, candidates, onConnect, disabled }) {
  if (!ports.length) return null;
  return (
    <fieldset className="connections">
      <legend>{gettext("Where each port leads")}</legend>
      {ports.map((port) => {
        const id = `conn-${nodeId}-${port}`;
        return (
          <div className="config-field" key={port}>
            <label htmlFor={id}>{portLabel(port)}</label>
            <select id={id} value={connections[port] ?? ""} disabled={disabled}
                    onChange={(e) => onConnect(nodeId, port, e.target.value || null)}>
              <option value="">{gettext("— not connected —")}</option>
              {candidates.filter((c) => c.id !== nodeId).map((c) => (
                <option key={c.id} value={c.id}>{c.name}</option>
              ))}
            </select>
          </div>
        );
      })}
    </fieldset>
  );
}

function ConfigPanel({ nodeId, data, types, pickers, problems, readOnly, connections,
  candidates, actions }) {
  const { onConfig, onLabel, onConnect, onDelete } = actions;
  const type = types[data.kind];
  const schema = type?.config_schema || { properties: {} };
  const config = data.config || {};
  const required = new Set(schema.required || []);
  const ports = portsOf(data.kind, data.config, types);
  const setKey = (key) => (value) => {
    const next = { ...config };
    if (value === undefined) delete next[key]; else next[key] = value;
    onConfig(nodeId, next, key);
  };
  const general = problems.filter((p) => !p.key);
  return (
    <section className="config-panel" aria-labelledby="config-title">
      <h2 id="config-title">{type?.label || data.kind}</h2>
      <p className="help">{type?.description}</p>
      {general.length > 0 && (
        <ul className="node-problems">
          {general.map((p) => <li key={p.field + p.message}>{p.message}</li>)}
        </ul>
      )}
      <div className="config-field">
        <label htmlFor={`label-${nodeId}`}>{gettext("Name on the canvas")}</label>
        <input id={`label-${nodeId}`} type="text" value={data.label ?? ""} disabled={readOnly}
               maxLength={80} placeholder={type?.label}
               onChange={(e) => onLabel(nodeId, e.target.value || undefined)} />
      </div>
      {Object.entries(schema.properties || {}).map(([key, property]) => (
        <SchemaField key={`${nodeId}-${key}`} name={key} property={property} root={schema}
                     value={config[key]} onChange={setKey(key)} idPrefix={`cfg-${nodeId}`}
                     pickers={pickers} config={config} disabled={readOnly}
                     required={required.has(key)} problems={problems.filter((p) => p.key === key)} />
      ))}
      <Connections nodeId={nodeId} ports={ports} connections={connections} candidates={candidates}
                   onConnect={onConnect} disabled={readOnly} />
      {!readOnly && (
        <button type="button" className="danger" onClick={() => onDelete(nodeId)}>
          {gettext("Delete this node")}</button>
      )}
    </section>
  );
}

export default memo(ConfigPanel);
