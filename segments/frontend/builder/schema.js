// Reading the registry's value schemas (JSON Schema, GET /api/v1/segment-fields/): which
// editor a value needs, a sensible first value, and the field/operator lookups.

const DATE_PATTERN = "^\\d{4}-\\d{2}-\\d{2}$";
// First values for the behaviour conditions' parts, where the schema's minimum would be an
// odd start (a 1-day window, a 1-hour wait).
const PART_DEFAULTS = { within_days: 30, days: 30, hours: 24, min_count: 1, name: "" };

/** One of: none, enum, date, text, integer, number, boolean, pair, enum-list, list, object,
 * scalar (an attribute: text, number or true/false). */
export function schemaKind(schema) {
  if (!schema) return "none";
  if (schema.anyOf) return "scalar";
  if (schema.enum) return "enum";
  if (schema.type === "string") return schema.pattern === DATE_PATTERN ? "date" : "text";
  if (schema.type === "array") {
    if (schema.prefixItems) return "pair";
    return schema.items?.enum ? "enum-list" : "list";
  }
  if (["integer", "number", "boolean", "object"].includes(schema.type)) return schema.type;
  return "text";
}

/** A value for `schema` that the builder starts a new condition with. */
export function defaultValue(schema, name = "") {
  const kind = schemaKind(schema);
  if (name in PART_DEFAULTS && kind !== "none") return PART_DEFAULTS[name];
  switch (kind) {
    case "none":
      return null;
    case "enum":
      return schema.enum.find((value) => value !== "") ?? schema.enum[0];
    case "integer":
    case "number":
      return schema.default ?? Math.max(schema.minimum ?? 0, schema.exclusiveMinimum ?? 0, 0) +
        (schema.exclusiveMinimum !== undefined ? 1 : 0);
    case "boolean":
      return true;
    case "pair":
      return schema.prefixItems.map((item) => defaultValue(item));
    case "enum-list":
    case "list":
      return [];
    case "object":
      return Object.fromEntries((schema.required || []).map(
        (part) => [part, defaultValue(schema.properties[part], part)]));
    default:
      return "";
  }
}

/** The schema of an optional part (anyOf [X, null]): X; otherwise the schema itself. */
export function withoutNull(schema) {
  const options = schema?.anyOf?.filter((option) => option.type !== "null");
  return options && options.length === 1 ? options[0] : schema;
}

export function registryIndex(registry) {
  const fields = Object.fromEntries(registry.fields.map((field) => [field.name, field]));
  const operators = Object.fromEntries(registry.operators.map((op) => [op.name, op]));
  return { fields, operators };
}

/** The value schema of `operator` for `field` in the registry index (null: no value). */
export function valueSchema(index, field, operator) {
  const entry = index.fields[field]?.operators.find((op) => op.name === operator);
  return entry ? entry.value_schema : null;
}
