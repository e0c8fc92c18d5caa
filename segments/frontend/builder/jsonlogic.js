// The stored rule (JsonLogic, as segments/rules/tree.py reads and writes it) <-> the query
// react-querybuilder edits. Pure functions, no React: the Vitest tests round-trip every
// operator of the registry through them.
//
// A condition is {"<op>": [{"var": field}, value]} (or without the value), except the shapes
// a query builder writes, read and written exactly as the server's tree.condition() does:
//   between      {"<=": [low, {"var": f}, high]}
//   contains     {"in": [text, {"var": f}]}
//   is_null      {"==": [{"var": f}, null]}     is_not_null  {"!=": [{"var": f}, null]}
//   starts_with  {"startsWith": [...]}          ends_with    {"endsWith": [...]}
// Groups are {"and": [...]}, {"or": [...]} and {"!": node}. In the builder a negated node is a
// group with `not: true`; a negated "and" group of one child is written back as {"!": child},
// so {"!": condition} round-trips as such.

export const ATTRIBUTE_PREFIX = "attributes.";
export const ATTRIBUTE_FIELD = "attributes.*";

const ALIASES = { startsWith: "starts_with", endsWith: "ends_with" };
const WRITTEN = { starts_with: "startsWith", ends_with: "endsWith" };

export class RuleShapeError extends Error {}

let lastId = 0;
export function newId() {
  lastId += 1;
  return `rule-${lastId}`;
}

function single(node) {
  if (node === null || typeof node !== "object" || Array.isArray(node)) {
    throw new RuleShapeError(`expected an object with one operation, got ${JSON.stringify(node)}`);
  }
  const entries = Object.entries(node);
  if (entries.length !== 1) {
    throw new RuleShapeError(`expected exactly one operation in ${JSON.stringify(node)}`);
  }
  return entries[0];
}

function varName(arg) {
  if (arg === null || typeof arg !== "object" || Array.isArray(arg)) return null;
  const keys = Object.keys(arg);
  if (keys.length !== 1 || keys[0] !== "var") return null;
  const name = Array.isArray(arg.var) && arg.var.length === 1 ? arg.var[0] : arg.var;
  return typeof name === "string" ? name : null;
}

// {field, operator, value} of a condition, as tree._shape reads it.
function conditionShape(operation, rawArgs) {
  const args = Array.isArray(rawArgs) ? rawArgs : [rawArgs];
  const names = args.map(varName);
  if (operation === "<=" && args.length === 3 && names[1] !== null) {
    return { field: names[1], operator: "between", value: [args[0], args[2]] };
  }
  if (operation === "in" && args.length === 2 && names[0] === null && names[1] !== null) {
    return { field: names[1], operator: "contains", value: args[0] };
  }
  if (!args.length || names[0] === null || args.length > 2) {
    throw new RuleShapeError(`"${operation}" must be [{"var": field}, value]`);
  }
  const operator = ALIASES[operation] || operation;
  if (args.length === 1) return { field: names[0], operator, value: null };
  if ((operation === "==" || operation === "!=") && args[1] === null) {
    return { field: names[0], operator: operation === "==" ? "is_null" : "is_not_null", value: null };
  }
  return { field: names[0], operator, value: args[1] };
}

function toRule(operation, args) {
  const { field, operator, value } = conditionShape(operation, args);
  const rule = { id: newId(), field, operator, value, valueSource: "value" };
  if (field.startsWith(ATTRIBUTE_PREFIX) && field !== ATTRIBUTE_FIELD) {
    rule.field = ATTRIBUTE_FIELD;
    rule.attribute = field.slice(ATTRIBUTE_PREFIX.length);
  }
  return rule;
}

function toNode(logic) {
  const [operation, args] = single(logic);
  if (operation === "and" || operation === "or") {
    if (!Array.isArray(args)) throw new RuleShapeError(`"${operation}" takes a list`);
    return { id: newId(), combinator: operation, not: false, rules: args.map(toNode) };
  }
  if (operation === "!") {
    const child = toNode(Array.isArray(args) ? args[0] : args);
    if (isGroup(child) && !child.not) return { ...child, not: true };
    return { id: newId(), combinator: "and", not: true, rules: [child] };
  }
  return toRule(operation, args);
}

export function isGroup(node) {
  return Array.isArray(node?.rules);
}

export function emptyQuery() {
  return { id: newId(), combinator: "and", not: false, rules: [] };
}

/** The builder's query for a stored rule (null or undefined: an empty "and" group). */
export function fromJsonLogic(logic) {
  if (logic === null || logic === undefined) return emptyQuery();
  const node = toNode(logic);
  return isGroup(node) ? node : { id: newId(), combinator: "and", not: false, rules: [node] };
}

function join(path, part) {
  return path ? `${path}.${part}` : part;
}

export function fieldName(rule) {
  return rule.field === ATTRIBUTE_FIELD ? ATTRIBUTE_PREFIX + (rule.attribute || "") : rule.field;
}

// The JsonLogic of one condition, as tree.condition() writes it.
export function conditionLogic(field, operator, value) {
  const variable = { var: field };
  if (operator === "between") {
    const [low, high] = Array.isArray(value) ? value : [null, null];
    return { "<=": [low, variable, high] };
  }
  if (operator === "contains") return { in: [value, variable] };
  if (operator === "is_null") return { "==": [variable, null] };
  if (operator === "is_not_null") return { "!=": [variable, null] };
  const operation = WRITTEN[operator] || operator;
  return { [operation]: value === null || value === undefined ? [variable] : [variable, value] };
}

function ruleLogic(rule, path, paths) {
  const logic = conditionLogic(fieldName(rule), rule.operator, rule.value);
  paths[join(path, Object.keys(logic)[0])] = rule.id;
  return logic;
}

function groupLogic(group, path, paths) {
  if (group.not) {
    const here = join(path, "!");
    paths[here] = group.id;
    if (group.combinator === "and" && group.rules.length === 1) {
      return { "!": nodeLogic(group.rules[0], here, paths) };
    }
    return { "!": groupLogic({ ...group, not: false }, here, paths) };
  }
  const here = join(path, group.combinator);
  paths[here] = group.id;
  return {
    [group.combinator]: group.rules.map((child, i) => nodeLogic(child, `${here}[${i}]`, paths)),
  };
}

function nodeLogic(node, path, paths) {
  return isGroup(node) ? groupLogic(node, path, paths) : ruleLogic(node, path, paths);
}

/** {logic, paths}: the stored rule for a builder query, and for each place in it the server
 * names in a 400 (`and[1].==`, without the leading "rule.") the id of the builder's rule or
 * group there. A query of one plain condition is stored as that condition alone. */
export function toJsonLogicWithPaths(query) {
  const paths = {};
  const [only] = query.rules;
  if (!query.not && query.rules.length === 1 && !isGroup(only)) {
    return { logic: ruleLogic(only, "", paths), paths };
  }
  return { logic: groupLogic(query, "", paths), paths };
}

export function toJsonLogic(query) {
  return toJsonLogicWithPaths(query).logic;
}

/** The builder node an API error's field ("rule.and[1].==") points at, or null. The server
 * names the deepest part it could read, so the longest known prefix wins. */
export function nodeIdForError(field, paths) {
  if (!field || !field.startsWith("rule")) return null;
  let path = field === "rule" ? "" : field.slice("rule.".length);
  while (path) {
    if (paths[path]) return paths[path];
    const cut = Math.max(path.lastIndexOf("."), path.lastIndexOf("["));
    path = cut > 0 ? path.slice(0, cut) : "";
  }
  return null;
}
