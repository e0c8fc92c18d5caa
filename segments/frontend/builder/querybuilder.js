// What the rule builder page and the canvas's condition nodes give react-querybuilder: the
// registry's fields grouped, labels in the page's language, operators per field, default
// values and the value editors. One place, so both edit rules the same way.
import { useCallback, useMemo } from "react";

import { gettext } from "../../../customers/frontend/lib/i18n.js";
import { RuleValueEditor } from "./editors.jsx";
import { fromJsonLogic, isGroup, RuleShapeError } from "./jsonlogic.js";
import { defaultValue, registryIndex, valueSchema } from "./schema.js";

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

export function updateNode(group, id, change) {
  return {
    ...group,
    rules: group.rules.map((node) => {
      if (node.id === id) return { ...node, ...change };
      return isGroup(node) ? updateNode(node, id, change) : node;
    }),
  };
}

/** {query, problem}: the builder's query for a stored rule, or an empty one and why the
 * stored rule could not be read. */
export function initialQuery(rule) {
  try {
    return { query: fromJsonLogic(rule), problem: "" };
  } catch (error) {
    if (!(error instanceof RuleShapeError)) throw error;
    return { query: fromJsonLogic(null), problem: error.message };
  }
}

/** The QueryBuilder props that depend on the registry, the other segments and the errors
 * to show at conditions (their node ids). Stable across renders while those stay the same:
 * a new context or class function redraws every condition. */
export function useQueryBuilderProps({ registry, segments, errorsAtNodes, setQuery }) {
  const index = useMemo(() => registryIndex(registry), [registry]);
  const fields = useMemo(() => fieldOptions(registry), [registry]);
  const labels = useMemo(builderLabels, []);
  const getOperators = useCallback((field) => (index.fields[field]?.operators || []).map(
    (op) => ({ name: op.name, value: op.name, label: index.operators[op.name]?.label || op.name })),
  [index]);
  const getDefaultValue = useCallback(
    (rule) => defaultValue(valueSchema(index, rule.field, rule.operator)), [index]);
  const setAttributeKey = useCallback(
    (id, attribute) => setQuery((current) => updateNode(current, id, { attribute })), [setQuery]);
  const context = useMemo(() => ({ index, segments, errors: errorsAtNodes, setAttributeKey }),
    [index, segments, errorsAtNodes, setAttributeKey]);
  const invalidClass = useCallback((node) => (errorsAtNodes[node.id] ? "rule-invalid" : ""),
    [errorsAtNodes]);
  return {
    fields, combinators: labels.combinatorOptions, translations: labels.translations,
    getOperators, getDefaultValue, controlElements: CONTROL_ELEMENTS, context,
    getRuleClassname: invalidClass, getRuleGroupClassname: invalidClass,
    showNotToggle: true, resetOnFieldChange: true, resetOnOperatorChange: true,
  };
}
