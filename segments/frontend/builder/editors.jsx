// Value editors, one per kind of value schema (schema.js): numbers, dates, enums, lists,
// pairs, segment pickers and the parts of behaviour conditions. Each writes the JSON value
// the stored rule holds, never a string standing for it.
import { useEffect, useState } from "react";

import { gettext, interpolate } from "../../../customers/frontend/lib/i18n.js";
import { ATTRIBUTE_FIELD } from "./jsonlogic.js";
import { schemaKind, valueSchema, withoutNull } from "./schema.js";

const PART_LABELS = {
  name: () => gettext("Event name"),
  min_count: () => gettext("At least (times)"),
  within_days: () => gettext("Within the last (days)"),
  properties: () => gettext("With properties (key=value, …)"),
  min_amount: () => gettext("Spent at least"),
  days: () => gettext("Days"),
  hours: () => gettext("Hours"),
  stage: () => gettext("Stage"),
};
const OPERATOR_PART_LABELS = {
  orders_within: { min_count: () => gettext("At least (orders)") },
};

function parseNumber(text) {
  if (text.trim() === "") return null;
  const number = Number(text);
  return Number.isNaN(number) ? text : number; // a bad value is the server's to name
}

// A number input that keeps what is being typed ("1." on the way to "1.5").
function NumberInput({ value, onChange, schema, label }) {
  const shown = value === null || value === undefined ? "" : String(value);
  const [draft, setDraft] = useState(shown);
  useEffect(() => {
    if (parseNumber(draft) !== value) setDraft(shown);
  }, [value]);
  const integer = schema?.type === "integer";
  return (
    <input
      type="number"
      aria-label={label}
      value={draft}
      step={integer ? 1 : "any"}
      min={schema?.minimum}
      max={schema?.maximum}
      onChange={(event) => {
        setDraft(event.target.value);
        onChange(parseNumber(event.target.value));
      }}
    />
  );
}

// Text that becomes a list: "a, b, c".
function splitList(text) {
  return text.split(",").map((s) => s.trim()).filter(Boolean);
}

function ListInput({ value, onChange, label, parse = (item) => item }) {
  const shown = Array.isArray(value) ? value.join(", ") : "";
  const [draft, setDraft] = useState(shown);
  useEffect(() => {
    if (splitList(draft).join(", ") !== shown) {
      setDraft(shown);
    }
  }, [shown]);
  return (
    <input
      type="text"
      aria-label={label}
      value={draft}
      placeholder={gettext("one, two, three")}
      onChange={(event) => {
        setDraft(event.target.value);
        onChange(splitList(event.target.value).map(parse));
      }}
    />
  );
}

// An attribute's value: its JSON type decides what it is compared with, so "3" is a number
// and "\"3\"" the text 3; true/false are booleans.
export function parseScalar(text) {
  const trimmed = text.trim();
  if (/^-?\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  if (trimmed === "true" || trimmed === "false") return trimmed === "true";
  if (/^".*"$/.test(trimmed)) return trimmed.slice(1, -1);
  return text;
}

export function showScalar(value) {
  if (typeof value === "string" && parseScalar(value) !== value) return `"${value}"`;
  return value === null || value === undefined ? "" : String(value);
}

/** How one typed item of a list value becomes JSON: days and numbers are numbers. */
export function listItemParser(schema) {
  const kind = schemaKind(schema.items);
  if (kind === "scalar") return parseScalar;
  if (kind === "integer" || kind === "number") return parseNumber;
  return (item) => item;
}

function propertiesText(value) {
  return Object.entries(value || {}).map(([k, v]) => `${k}=${showScalar(v)}`).join(", ");
}

export function parseProperties(text) {
  const parts = text.split(",").map((s) => s.trim()).filter(Boolean);
  return Object.fromEntries(parts.map((part) => {
    const [key, ...rest] = part.split("=");
    return [key.trim(), parseScalar(rest.join("=").trim())];
  }));
}

function PropertiesInput({ value, onChange, label }) {
  const [draft, setDraft] = useState(propertiesText(value));
  return (
    <input
      type="text"
      aria-label={label}
      value={draft}
      placeholder="plan=gold"
      onChange={(event) => {
        setDraft(event.target.value);
        onChange(parseProperties(event.target.value));
      }}
    />
  );
}

function choiceLabel(fieldData, value) {
  const choice = fieldData?.choices?.find((each) => each.value === value);
  if (choice) return choice.label || gettext("(blank)");
  return value === "" ? gettext("(blank)") : value;
}

function EnumChecks({ schema, value, onChange, label, fieldData }) {
  const chosen = new Set(Array.isArray(value) ? value : []);
  const toggle = (item) => {
    const next = new Set(chosen);
    if (next.has(item)) next.delete(item);
    else next.add(item);
    onChange(schema.items.enum.filter((each) => next.has(each)));
  };
  return (
    <fieldset className="value-checks">
      <legend className="visually-hidden">{label}</legend>
      {schema.items.enum.map((item) => (
        <label key={item}>
          <input type="checkbox" checked={chosen.has(item)} onChange={() => toggle(item)} />
          {choiceLabel(fieldData, item)}
        </label>
      ))}
    </fieldset>
  );
}

function SegmentPicker({ value, onChange, label, segments }) {
  return (
    <select aria-label={label} value={value ?? ""}
      onChange={(event) => onChange(event.target.value ? Number(event.target.value) : null)}>
      <option value="">{gettext("Choose a segment…")}</option>
      {segments.map((segment) => (
        <option key={segment.id} value={segment.id}>{segment.name}</option>
      ))}
    </select>
  );
}

function ObjectEditor({ schema, value, onChange, context, operator }) {
  const current = value && typeof value === "object" ? value : {};
  const setPart = (part, partValue) => {
    const next = { ...current };
    const empty = partValue === null || partValue === "" ||
      (typeof partValue === "object" && !Object.keys(partValue).length);
    if (empty && !(schema.required || []).includes(part)) delete next[part];
    else next[part] = partValue;
    onChange(next);
  };
  return (
    <span className="value-parts">
      {Object.entries(schema.properties).map(([part, partSchema]) => {
        const label = (OPERATOR_PART_LABELS[operator]?.[part] || PART_LABELS[part] ||
          (() => partSchema.title || part))();
        return (
          <label key={part}>
            {label}
            {part === "properties"
              ? <PropertiesInput value={current[part]} label={label}
                onChange={(v) => setPart(part, v)} />
              : <ValueInput schema={withoutNull(partSchema)} value={current[part] ?? null}
                label={label} context={context} onChange={(v) => setPart(part, v)} />}
          </label>
        );
      })}
    </span>
  );
}

/** The editor for one value of `schema`. */
export function ValueInput({ schema, value, onChange, label, fieldData, context, operator }) {
  const kind = schemaKind(schema);
  const text = (type) => (
    <input type={type} aria-label={label} value={value ?? ""}
      onChange={(event) => onChange(event.target.value)} />
  );
  switch (kind) {
    case "none":
      return null;
    case "enum":
      return (
        <select aria-label={label} value={value ?? ""}
          onChange={(event) => onChange(event.target.value)}>
          {schema.enum.map((item) => (
            <option key={item} value={item}>{choiceLabel(fieldData, item)}</option>
          ))}
        </select>
      );
    case "date":
      return text("date");
    case "integer":
    case "number":
      if (fieldData?.type === "segment") {
        return <SegmentPicker value={value} onChange={onChange} label={label}
          segments={context.segments} />;
      }
      return <NumberInput value={value} onChange={onChange} schema={schema} label={label} />;
    case "boolean":
      return (
        <select aria-label={label} value={String(value ?? true)}
          onChange={(event) => onChange(event.target.value === "true")}>
          <option value="true">{gettext("yes")}</option>
          <option value="false">{gettext("no")}</option>
        </select>
      );
    case "pair":
      return <PairInput schema={schema} value={value} onChange={onChange} label={label}
        fieldData={fieldData} context={context} />;
    case "enum-list":
      return <EnumChecks schema={schema} value={value} onChange={onChange} label={label}
        fieldData={fieldData} />;
    case "list":
      return <ListInput value={value} onChange={onChange} label={label}
        parse={listItemParser(schema)} />;
    case "object":
      return <ObjectEditor schema={schema} value={value} onChange={onChange} context={context}
        operator={operator} />;
    case "scalar":
      return <ScalarInput value={value} onChange={onChange} label={label} />;
    default:
      return text("text");
  }
}

function ScalarInput({ value, onChange, label }) {
  const [draft, setDraft] = useState(showScalar(value));
  return (
    <input type="text" aria-label={label} value={draft}
      title={gettext("3 is a number, \"3\" the text 3; true and false are yes/no")}
      onChange={(event) => {
        setDraft(event.target.value);
        onChange(parseScalar(event.target.value));
      }} />
  );
}

function PairInput({ schema, value, onChange, label, fieldData, context }) {
  const [low, high] = Array.isArray(value) ? value : [null, null];
  const [lowSchema, highSchema] = schema.prefixItems;
  return (
    <span className="value-parts">
      <ValueInput schema={lowSchema} value={low} fieldData={fieldData} context={context}
        label={interpolate(gettext("%(label)s from"), { label })}
        onChange={(v) => onChange([v, high])} />
      <span aria-hidden="true">{gettext("and")}</span>
      <ValueInput schema={highSchema} value={high} fieldData={fieldData} context={context}
        label={interpolate(gettext("%(label)s to"), { label })}
        onChange={(v) => onChange([low, v])} />
    </span>
  );
}

/** react-querybuilder's valueEditor: the attribute key (for attributes.*), the value's
 * editor, and the server's message about this condition. */
export function RuleValueEditor(props) {
  const { rule, field, operator, value, handleOnChange, fieldData, context } = props;
  const schema = valueSchema(context.index, field, operator);
  const label = interpolate(gettext("%(field)s: value"), { field: fieldData?.label || field });
  const error = context.errors[rule.id];
  return (
    <>
      {field === ATTRIBUTE_FIELD && (
        <input type="text" aria-label={gettext("Attribute key")} placeholder={gettext("key")}
          value={rule.attribute || ""}
          onChange={(event) => context.setAttributeKey(rule.id, event.target.value.trim())} />
      )}
      <ValueInput schema={schema} value={value} onChange={handleOnChange} label={label}
        fieldData={context.index.fields[field]} context={context} operator={operator} />
      {error && <p className="rule-error" role="alert" data-rule-error>{error}</p>}
    </>
  );
}
