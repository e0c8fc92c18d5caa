"""The segment builder's Vitest tests read segments/frontend/builder/fixtures/registry.json; it
must be what the registry says now, or those tests would pass against operators the server no
longer has (or miss new ones)."""

import io
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from segments.management.commands.write_builder_registry import render
from segments.rules import OPERATORS

FIXTURE = Path(settings.BASE_DIR) / "segments/frontend/builder/fixtures/registry.json"


def test_the_builder_registry_fixture_is_up_to_date():
    # Fails with "run `python manage.py write_builder_registry`" when the file is stale.
    call_command("write_builder_registry", "--check", stdout=io.StringIO())


def test_a_stale_fixture_is_refused_with_the_command_that_rewrites_it(tmp_path, settings):
    settings.BASE_DIR = tmp_path
    stale = tmp_path / "segments/frontend/builder/fixtures/registry.json"
    stale.parent.mkdir(parents=True)
    stale.write_text(FIXTURE.read_text().replace('"between"', '"betwixt"'))

    with pytest.raises(CommandError, match=r"run `python manage\.py write_builder_registry`"):
        call_command("write_builder_registry", "--check", stdout=io.StringIO())


def test_the_fixture_has_an_example_of_every_operator_on_every_field():
    registry = json.loads(render())
    pairs = {(field["name"].replace("*", "vip_level"), op["name"])
             for field in registry["fields"] for op in field["operators"]}
    examples = {(each["field"], each["operator"]) for each in registry["examples"]}
    assert examples == pairs
    assert {op for _field, op in examples} == set(OPERATORS)
