// The segment rule builder: react-querybuilder over the rule registry the server serves
// (GET /api/v1/segment-fields/), a template picker, a live count with sample members
// (POST /api/v1/segments/preview/, debounced, stale requests aborted) and save. The server
// validates every rule; its 400s are shown at the condition they name.
import { useCallback, useEffect, useMemo, useState } from "react";
import { QueryBuilder } from "react-querybuilder";

import { api, ApiError, apiAll } from "../../../customers/frontend/lib/api.js";
import { formatNumber, gettext, interpolate, language } from "../../../customers/frontend/lib/i18n.js";
import { fromJsonLogic, nodeIdForError, toJsonLogicWithPaths } from "./jsonlogic.js";
import { initialQuery, useQueryBuilderProps } from "./querybuilder.js";

const PREVIEW_DELAY_MS = 400;
const NO_ERRORS = { atNodes: {}, atFields: {}, general: [] };

// A template's name or description: {language: text}, English when the page's is missing.
function localized(texts) {
  return texts[language()] || texts.en;
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

  const { logic, paths } = useMemo(() => toJsonLogicWithPaths(query), [query]);
  const preview = usePreview(registry, logic, paths);
  const errors = saveErrors || preview.errors || NO_ERRORS;
  const onQueryChange = useCallback((next) => {
    setSaveErrors(null);
    setQuery(next);
  }, []);

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
      // Refused (412) if the segment changed since this page read it: another operator's or
      // tab's save is never silently undone.
      const saved = segment
        ? await api(`segments/${segment.id}/`, { method: "PUT", body,
          headers: { "If-Match": `"${segment.updated_at}"` } })
        : await api("segments/", { method: "POST", body });
      window.location.assign(detailUrl.replace("{id}", saved.id));
    } catch (error) {
      setSaving(false);
      if (error instanceof ApiError && error.status === 400) {
        setSaveErrors(splitErrors(error, paths));
      } else if (error instanceof ApiError && error.status === 412) {
        setSaveErrors({ atNodes: {}, atFields: {}, general: [gettext(
          "Not saved: this segment was changed elsewhere (another operator or tab) since you "
          + "opened it. Reload the page to see that version, then redo your change.")] });
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
          <RuleBuilder registry={registry} segments={segments} errorsAtNodes={errors.atNodes}
                       query={query} setQuery={setQuery} onQueryChange={onQueryChange} />
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

// Its own component: the builder's props need the registry, which the form waits for.
function RuleBuilder({ registry, segments, errorsAtNodes, query, setQuery, onQueryChange }) {
  const props = useQueryBuilderProps({ registry, segments, errorsAtNodes, setQuery });
  return <QueryBuilder {...props} query={query} onQueryChange={onQueryChange} />;
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
