// What an operator types into the attribute and event-property inputs becomes typed JSON,
// because the server compares an attribute only with a value of its own JSON type.
import { describe, expect, test } from "vitest";

import { parseProperties, parseScalar, showScalar } from "./editors.jsx";

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
