"""segments/frontend/builder/fixtures/registry.json: the rule registry (GET
/api/v1/segment-fields/, in English), every template's rule, and for every field and operator
an example condition written by the server (tree.condition) that the server's parser accepts.
The builder's Vitest tests round-trip them; a pytest test runs `write_builder_registry
--check`, so they always test the operators the server really has."""

import json
from typing import Any

from django.utils import translation

from config.generated_docs import GeneratedDocCommand
from segments.library import describe_templates
from segments.rules import condition, describe, parse

ATTRIBUTE_EXAMPLE = "attributes.vip_level"
# Example values for the parts of behaviour conditions, by name.
PART_EXAMPLES = {"name": "visit", "stage": "dormant", "properties": {"plan": "gold"}}


def example(schema: dict[str, Any] | None, name: str = "") -> Any:
    """A valid, not-default value for a JSON Schema, for round-trip tests."""
    if schema is None:
        return None
    if name in PART_EXAMPLES:
        return PART_EXAMPLES[name]
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        numbers = [s for s in options if s.get("type") in ("integer", "number")]
        return example((numbers or options)[0])
    if "enum" in schema:
        return schema["enum"][-1]
    return _typed_example(schema)


def _typed_example(schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "string":
        return "1990-05-17" if schema.get("pattern", "").startswith("^\\d{4}") else "Shanghai"
    if kind == "integer":
        return schema.get("minimum", 0) + 3
    if kind == "number":
        return 12.5
    if kind == "boolean":
        return False
    if kind == "array" and "prefixItems" in schema:
        low = example(schema["prefixItems"][0])
        return [low, "2001-02-03" if isinstance(low, str) else low + 10]
    if kind == "array":
        item = schema["items"]
        if "enum" in item:
            return item["enum"][:2]
        first = example(item)
        return [first, "Beijing" if isinstance(first, str) else first + 1]
    return {part: example(sub, part) for part, sub in schema["properties"].items()}


def examples(registry: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for field in registry["fields"]:
        name = ATTRIBUTE_EXAMPLE if field["name"].endswith("*") else field["name"]
        for operator in field["operators"]:
            value = example(operator["value_schema"])
            logic = condition(name, operator["name"], value)
            parse(logic)  # the server must accept what the builder is tested with
            found.append({"field": name, "operator": operator["name"], "value": value,
                          "logic": logic})
    return found


def render() -> str:
    with translation.override("en"):
        registry = dict(describe())
        registry["templates"] = [{"key": each["key"], "rule": each["rule"]}
                                 for each in describe_templates()]
        registry["examples"] = examples(registry)
    return json.dumps(registry, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


class Command(GeneratedDocCommand):
    help = "Write the segment builder's registry fixture for its Vitest tests."
    doc = "segments/frontend/builder/fixtures/registry.json"

    def render(self) -> str:
        return render()
