// A rule edited with the query builder alone, for forms that hold a rule as one of their
// values (a campaign's condition node). It starts from `value` and reports every change as
// JsonLogic; give it a new key to start again from a value changed elsewhere.
import { useCallback, useState } from "react";
import { QueryBuilder } from "react-querybuilder";

import { gettext, interpolate } from "../../../customers/frontend/lib/i18n.js";
import { toJsonLogic } from "./jsonlogic.js";
import { initialQuery, useQueryBuilderProps } from "./querybuilder.js";

const NO_ERRORS = {};

export default function RuleEditor({ registry, segments, value, onChange, disabled }) {
  const [start] = useState(() => initialQuery(value));
  const [query, setQuery] = useState(start.query);
  const props = useQueryBuilderProps({ registry, segments, errorsAtNodes: NO_ERRORS, setQuery });
  const onQueryChange = useCallback((next) => {
    setQuery(next);
    onChange(next.rules.length ? toJsonLogic(next) : undefined);
  }, [onChange]);
  if (start.problem) {
    return <p className="field-error">{interpolate(
      gettext("The rule builder cannot show this rule (%(problem)s); edit it as JsonLogic."),
      { problem: start.problem })}</p>;
  }
  return <QueryBuilder {...props} query={query} onQueryChange={onQueryChange}
                       disabled={disabled} />;
}
