// The segment rule builder: react-querybuilder over the rule registry the server serves
// (GET /api/v1/segment-fields/), a template picker, a live count with sample members
// (POST /api/v1/segments/preview/, debounced, stale requests aborted) and save. The server
// validates every rule; its 400s are shown at the condition they name.
import { useCallback, useEffect, useMemo, useState } from "react";
import { QueryBuilder } from "react-querybuilder";

import { api, ApiError, apiAll } from "../../../customers/frontend/lib/api.js";
import { formatNumber, gettext, interpolate, language } from "../../../customers/frontend/lib/i18n.js";
import { RuleValueEditor } from "./editors.jsx";
import {
  fromJsonLogic,
  isGroup,
  nodeIdForError,
  RuleShapeError,
  toJsonLogicWithPaths,
} from "./jsonlogic.js";
import { defaultValue, registryIndex, valueSchema } from "./schema.js";

const PREVIEW_DELAY_MS = 400;
const NO_ERRORS = { atNodes: {}, atFields: {}, general: [] };
const CONTROL_ELEMENTS = { valueEditor: RuleValueEditor };

const GROUP_LABELS = {
  profile: () => gettext("Profile"),
  consent: () => gettext("Consent"),
  value: () => gettext("Value"),
  behaviour: () => gettext("Behaviour"),
  membership: () => gettext("Membership"),
};

function builderLabels() {
  const combinatorOptions = [{ name: "and", label: gettext("all of (and)") },
    { name: "or", label: gettext("any of (or)") }];
  return { combinatorOptions, translations: {
    addRule: { label: gettext("+ Condition"), title: gettext("Add a condition") },
    addGroup: { label: gettext("+ Group"), title: gettext("Add a group of conditions") },
    removeRule: { label: "×", title: gettext("Remove this condition") },
    removeGroup: { label: "×", title: gettext("Remove this group") },
    notToggle: { label: gettext("Not"), title: gettext("Negate this group") },
    fields: { title: gettext("Field") },
    operators: { title: gettext("Operator") },
    combinators: { title: gettext("Match") },
  } };
}

function fieldOptions(registry) {
  const groups = new Map();
  for (const field of registry.fields) {
    const label = field.name.endsWith("*") ? `${field.label}…` : field.label;
    if (!groups.has(field.group)) groups.set(field.group, []);
    groups.get(field.group).push({ name: field.name, value: field.name, label });
  }
  return [...groups].map(([group, options]) => ({
    label: (GROUP_LABELS[group] || (() => group))(),
    options,
  }));
}

function updateNode(group, id, change) {
  return {
    ...group,
    rules: group.rules.map((node) => {
      if (node.id === id) return { ...node, ...change };
      return isGroup(node) ? updateNode(node, id, change) : node;
    }),
  };
}

// A template's name or description: {language: text}, English when the page's is missing.
function localized(texts) {
  return texts[language()] || texts.en;
}

function initialQuery(rule) {
  try {
    return { query: fromJsonLogic(rule), problem: "" };
  } catch (error) {
    if (!(error instanceof RuleShapeError)) throw error;
    return { query: fromJsonLogic(null), problem: error.message };
  }
}

// Messages of a 400 split into the builder's nodes, the form's fields and the rest.
function splitErrors(error, paths) {
  const atNodes = {};
  const atFields = {};
  const general = [];
  for (const { field, message } of error.body.errors || []) {
    const nodeId = nodeIdForError(field, paths);
    if (nodeId) atNodes[nodeId] = message;
    else if (field === "name" || field === "description") atFields[field] = message;
    else general.push(field && field !== "non_field_errors" ? `${field}: ${message}` : message);
  }
  if (!general.length && !Object.keys(atNodes).length && !Object.keys(atFields).length) {
    general.push(error.message);
  }
  return { atNodes, atFields, general };
}

function usePreview(registry, logic, paths) {
  const [preview, setPreview] = useState({ state: "idle" });
  // The paths too: the same rule rebuilt (a template picked again) has new node ids.
  const key = JSON.stringify([logic, paths]);
  useEffect(() => {
    if (!registry) return undefined;
    const controller = new AbortController();
    setPreview((previous) => ({ ...previous, state: "loading" }));
    const timer = setTimeout(async () => {
      try {
        const data = await api("segments/preview/", {
          method: "POST", body: { rule: logic }, signal: controller.signal,
        });
        setPreview({ state: "ok", ...data, errors: NO_ERRORS });
      } catch (error) {
        if (controller.signal.aborted) return; // a newer rule's request took over
        if (error instanceof ApiError && error.status === 400) {
          setPreview({ state: "invalid", errors: splitErrors(error, paths) });
        } else {
          setPreview({ state: "failed", message: error.message });
        }
      }
    }, PREVIEW_DELAY_MS);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [registry, key]);
  return preview;
}

export default function Builder({ segment, detailUrl, listUrl }) {
  const [registry, setRegistry] = useState(null);
  const [templates, setTemplates] = useState([]);
  const [segments, setSegments] = useState([]);
  const [loadError, setLoadError] = useState("");
  const [start] = useState(() => initialQuery(segment?.rule));
  const [query, setQuery] = useState(start.query);
  const [name, setName] = useState(segment?.name || "");
  const [description, setDescription] = useState(segment?.description || "");
  const [saveErrors, setSaveErrors] = useState(null);
  const [saving, setSaving] = useState(false);

  useEffect(() => {
    Promise.all([api("segment-fields/"), api("segment-templates/"), apiAll("segments/")])
      .then(([fields, found, all]) => {
        setRegistry(fields);
        setTemplates(found);
        setSegments(all.filter((each) => each.id !== segment?.id));
      })
      .catch((error) => setLoadError(error.message));
  }, []);

  const index = useMemo(() => registry && registryIndex(registry), [registry]);
  const fields = useMemo(() => registry && fieldOptions(registry), [registry]);
  const labels = useMemo(builderLabels, []);
  const getOperators = useCallback((field) => (index.fields[field]?.operators || []).map(
    (op) => ({ name: op.name, value: op.name, label: index.operators[op.name]?.label || op.name })),
  [index]);
  const getDefaultValue = useCallback(
    (rule) => defaultValue(valueSchema(index, rule.field, rule.operator)), [index]);
  const { logic, paths } = useMemo(() => toJsonLogicWithPaths(query), [query]);
  const preview = usePreview(registry, logic, paths);
  const errors = saveErrors || preview.errors || NO_ERRORS;

  const setAttributeKey = useCallback(
    (id, attribute) => setQuery((current) => updateNode(current, id, { attribute })), []);
  const onQueryChange = useCallback((next) => {
    setSaveErrors(null);
    setQuery(next);
  }, []);
  // Made again only when what they read changed: a new context or class function redraws
  // every condition of the builder (typing the segment's name should not).
  const context = useMemo(() => ({ index, segments, errors: errors.atNodes, setAttributeKey }),
    [index, segments, errors.atNodes, setAttributeKey]);
  const invalidClass = useCallback((node) => (errors.atNodes[node.id] ? "rule-invalid" : ""),
    [errors.atNodes]);

  const pickTemplate = (key) => {
    const template = templates.find((each) => each.key === key);
    if (!template) return;
    setSaveErrors(null);
    setQuery(fromJsonLogic(template.rule));
    if (!name.trim()) setName(localized(template.name));
    if (!description.trim()) setDescription(localized(template.description));
  };

  const save = async (event) => {
    event.preventDefault();
    setSaving(true);
    try {
      const body = { name: name.trim(), description, rule: logic };
      const saved = segment
        ? await api(`segments/${segment.id}/`, { method: "PUT", body })
        : await api("segments/", { method: "POST", body });
      window.location.assign(detailUrl.replace("{id}", saved.id));
    } catch (error) {
      setSaving(false);
      if (error instanceof ApiError && error.status === 400) {
        setSaveErrors(splitErrors(error, paths));
      } else {
        setSaveErrors({ atNodes: {}, atFields: {}, general: [error.message] });
      }
    }
  };

  if (loadError) {
    return <div className="alert error" role="alert">{interpolate(
      gettext("The rule builder could not load: %(error)s"), { error: loadError })}</div>;
  }
  if (!registry) return <p className="muted" role="status">{gettext("Loading the rule builder…")}</p>;

  return (
    <form className="builder" onSubmit={save} noValidate data-builder-ready="true">
      <div className="builder-main">
        <section className="card">
          <div className="builder-meta">
            <label>
              {gettext("Name")}
              <input type="text" value={name} required maxLength={200}
                aria-invalid={Boolean(errors.atFields.name)}
                aria-describedby={errors.atFields.name ? "name-error" : undefined}
                onChange={(event) => setName(event.target.value)} />
              {errors.atFields.name && <span id="name-error" className="field-error">{errors.atFields.name}</span>}
            </label>
            <label className="template-picker">
              {gettext("Start from a template")}
              <select defaultValue="" onChange={(event) => pickTemplate(event.target.value)}>
                <option value="">{gettext("Choose a template…")}</option>
                {templates.map((template) => (
                  <option key={template.key} value={template.key}>{localized(template.name)}</option>
                ))}
              </select>
            </label>
            <label className="wide">
              {gettext("Description")}
              <textarea value={description} maxLength={2000}
                onChange={(event) => setDescription(event.target.value)} />
            </label>
          </div>
        </section>
        {start.problem && <div className="alert error" role="alert">{interpolate(
          gettext("The stored rule could not be read (%(problem)s); start again or pick a template."),
          { problem: start.problem })}</div>}
        {errors.general.length > 0 && (
          <div className="alert error" role="alert" data-general-errors>
            <ul>{errors.general.map((message) => <li key={message}>{message}</li>)}</ul>
          </div>
        )}
        <section className="card" aria-label={gettext("Rule")}>
          <QueryBuilder
            fields={fields}
            query={query}
            onQueryChange={onQueryChange}
            combinators={labels.combinatorOptions}
            getOperators={getOperators}
            getDefaultValue={getDefaultValue}
            controlElements={CONTROL_ELEMENTS}
            context={context}
            getRuleClassname={invalidClass}
            getRuleGroupClassname={invalidClass}
            translations={labels.translations}
            showNotToggle
            resetOnFieldChange
            resetOnOperatorChange
          />
        </section>
        <div className="builder-actions">
          <button type="submit" className="primary" disabled={saving}>
            {segment ? gettext("Save changes") : gettext("Create segment")}
          </button>
          <a href={segment ? detailUrl.replace("{id}", segment.id) : listUrl}>{gettext("Cancel")}</a>
        </div>
      </div>
      <PreviewPanel preview={preview} />
    </form>
  );
}

function PreviewPanel({ preview }) {
  const busy = preview.state === "loading" || preview.state === "idle";
  return (
    <aside className="card preview" aria-labelledby="preview-heading" aria-busy={busy}
      data-preview-state={preview.state}>
      <h2 id="preview-heading">{gettext("Who matches now")}</h2>
      <p className="count" aria-live="polite" data-preview-count>
        {preview.count === undefined ? "–" : formatNumber(preview.count)}
      </p>
      <p className="muted small">
        {preview.state === "invalid" && gettext("Fix the highlighted conditions to see the count.")}
        {preview.state === "failed" && interpolate(gettext("The preview failed: %(error)s"),
          { error: preview.message })}
        {preview.state === "ok" && interpolate(gettext("Counted in %(ms)s ms."), { ms: preview.duration_ms })}
        {preview.state === "ok" && preview.time_dependent &&
          ` ${gettext("This rule moves with the clock: it is re-evaluated at least hourly.")}`}
      </p>
      {preview.state === "ok" && preview.sample.length > 0 && (
        <>
          <h3>{gettext("Some of them")}</h3>
          <ul data-preview-sample>
            {preview.sample.map((customer) => (
              <li key={customer.external_id}>
                {customer.external_id}{customer.name ? ` · ${customer.name}` : ""}
              </li>
            ))}
          </ul>
        </>
      )}
    </aside>
  );
}
