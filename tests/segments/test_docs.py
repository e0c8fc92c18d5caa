"""docs/segment-rules.md is written from the registry and the templates; it must not go
stale."""

import io

from django.core.management import call_command


def test_the_rules_doc_is_up_to_date():
    # Fails with "run `python manage.py describe_segment_rules`" when the file is stale.
    call_command("describe_segment_rules", "--check", stdout=io.StringIO())


def test_the_rules_doc_lists_every_field_operator_and_template():
    from segments.library import TEMPLATES
    from segments.management.commands.describe_segment_rules import render
    from segments.rules import FIELDS, OPERATORS

    text = render()
    for name in [*FIELDS, *OPERATORS, *TEMPLATES]:
        assert f"`{name}`" in text, name
