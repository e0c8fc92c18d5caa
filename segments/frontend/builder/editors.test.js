// What an operator types into the attribute and event-property inputs becomes typed JSON,
// because the server compares an attribute only with a value of its own JSON type.
import { readFileSync } from "node:fs";

import { describe, expect, test } from "vitest";

import { listItemParser, parseProperties, parseScalar, showScalar } from "./editors.jsx";
import { schemaKind } from "./schema.js";

describe("attribute values", () => {
  test.each([
    ["3", 3],
    ["-2.5", -2.5],
    ["true", true],
    ["false", false],
    ['"3"', "3"],
    ["gold", "gold"],
    ["", ""],
  ])("%j is %j", (typed, value) => {
    expect(parseScalar(typed)).toEqual(value);
  });

  test.each([[3], ["3"], [true], ["gold"]])("%j is shown so that it reads back the same",
    (value) => {
      expect(parseScalar(showScalar(value))).toEqual(value);
    });
});

test("event properties are key=value pairs", () => {
  expect(parseProperties("plan=gold, seats=3, trial=false, code=\"7\"")).toEqual(
    { plan: "gold", seats: 3, trial: false, code: "7" });
  expect(parseProperties(" ")).toEqual({});
});

describe("list values typed as text", () => {
  const registry = JSON.parse(
    readFileSync(new URL("./fixtures/registry.json", import.meta.url), "utf-8"),
  );
  const schemas = Object.fromEntries(registry.fields.flatMap((field) => field.operators.map(
    (op) => [`${field.name.replace("*", "vip_level")} ${op.name}`, op.value_schema])));
  const lists = registry.examples.filter(
    (e) => schemaKind(schemas[`${e.field} ${e.operator}`]) === "list");

  test("there are list-valued operators to test", () => {
    expect(lists.length).toBeGreaterThan(5);
  });

  test.each(lists.map((e) => [`${e.field} ${e.operator}`, e]))("%s reads back its items",
    (name, e) => {
      const parse = listItemParser(schemas[name]);
      const typed = e.value.map(showScalar).join(", ");
      expect(typed.split(",").map((item) => parse(item.trim()))).toEqual(e.value);
    });
});
