// "Why is this customer (not) in it?": GET /api/v1/segments/<id>/explain/<external_id>/,
// shown as the rule's tree with each condition's verdict and the customer's own value.
import { useState } from "react";

import { api } from "../../../customers/frontend/lib/api.js";
import { gettext, interpolate } from "../../../customers/frontend/lib/i18n.js";

function shown(value) {
  if (value === null || value === undefined) return gettext("no value");
  if (typeof value === "boolean") return value ? gettext("yes") : gettext("no");
  if (Array.isArray(value)) return value.map(shown).join(", ");
  if (typeof value === "object") {
    return Object.entries(value).map(([key, each]) => `${key}: ${shown(each)}`).join(", ");
  }
  return String(value);
}

function Verdict({ matches }) {
  return matches
    ? <span className="pill change-entered">{gettext("matches")}</span>
    : <span className="pill change-exited">{gettext("does not match")}</span>;
}

function Node({ node }) {
  if (node.type === "condition") {
    return (
      <li data-condition={node.path} data-matches={String(node.matches)}>
        <Verdict matches={node.matches} />{" "}
        <strong>{node.field_label}</strong> {node.operator_label}
        {node.value !== undefined && node.value !== null && <> <code>{shown(node.value)}</code></>}
        <div className="muted small">
          {interpolate(gettext("Customer: %(value)s"), { value: shown(node.customer_value) })}
        </div>
      </li>
    );
  }
  const heading = { and: gettext("all of"), or: gettext("any of"), not: gettext("not") }[node.type];
  return (
    <li data-group={node.path} data-matches={String(node.matches)}>
      <Verdict matches={node.matches} /> <span className="combinator">{heading}</span>
      <ul className="rule-group">
        {node.children.map((child) => <Node key={child.path} node={child} />)}
      </ul>
    </li>
  );
}

function summary(result) {
  const name = result.customer.name || result.customer.external_id;
  const values = { name, segment: result.segment.name };
  if (result.matches && result.is_member) {
    return interpolate(gettext("%(name)s is in “%(segment)s”: the rule matches now."), values);
  }
  if (!result.matches && !result.is_member) {
    return interpolate(gettext("%(name)s is not in “%(segment)s”: the rule does not match now."), values);
  }
  if (result.matches) {
    return interpolate(gettext("The rule matches %(name)s now; they join “%(segment)s” at its next evaluation."), values);
  }
  return interpolate(gettext("The rule no longer matches %(name)s; they leave “%(segment)s” at its next evaluation."), values);
}

export default function Explain({ segmentId }) {
  const [externalId, setExternalId] = useState("");
  const [result, setResult] = useState(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  const submit = async (event) => {
    event.preventDefault();
    if (!externalId.trim()) return;
    setBusy(true);
    setError("");
    try {
      setResult(await api(`segments/${segmentId}/explain/${encodeURIComponent(externalId.trim())}/`));
    } catch (failure) {
      setResult(null);
      setError(failure.message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="explain">
      <form className="search" onSubmit={submit}>
        <label htmlFor="explain-customer">{gettext("Customer external id")}</label>
        <input id="explain-customer" type="text" value={externalId} maxLength={200}
          onChange={(event) => setExternalId(event.target.value)} />
        <button type="submit" disabled={busy}>{gettext("Explain")}</button>
      </form>
      {error && <p className="alert error" role="alert">{error}</p>}
      {result && (
        <div aria-live="polite" data-explanation>
          <p data-verdict={result.matches ? "matches" : "no-match"}><strong>{summary(result)}</strong></p>
          <ul className="rule-group explain-tree"><Node node={result.tree} /></ul>
        </div>
      )}
    </div>
  );
}
