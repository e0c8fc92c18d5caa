"""Message templates: escaping, plain text, translations, missing variables, the sandbox,
and the plain-text alternative of HTML email."""

import datetime as dt
import json

import pytest
from django.template import TemplateSyntaxError

from campaigns.channels import CHANNELS
from campaigns.models import MessageTemplate
from campaigns.services import rendering
from campaigns.services.messages import Invalid, template_save

NOW = dt.datetime(2026, 1, 14, 12, 0, tzinfo=dt.UTC)


def context(**customer):
    base = rendering.sample_context(NOW)
    base["customer"] = rendering.readonly({**base["customer"], **customer})
    return base


def render(channel, body, subject="", language="", translations=None, **customer):
    template = MessageTemplate(channel=channel, subject=subject, body=body,
                               translations=translations or {})
    return rendering.render(rendering.template_for(template, language), context(**customer),
                            language)


def test_email_html_escapes_the_variables():
    rendered = render("email", "<p>Hi {{ customer.name }}</p>", name="<script>x</script>")

    assert rendered.body.startswith("<p>Hi &lt;script&gt;x&lt;/script&gt;</p>")


def test_the_email_subject_is_text_on_one_line():
    rendered = render("email", "x", subject="Hi {{ customer.name }}\n  again", name="A & B")

    assert rendered.subject == "Hi A & B again"


def test_sms_is_plain_text_not_escaped():
    rendered = render("sms", "Hi {{ customer.name }}: {{ unsubscribe_url }}", name="A & <B>")

    assert rendered.body == "Hi A & <B>: http://127.0.0.1:8000/u/preview/"


def test_a_missing_variable_renders_empty():
    assert render("sms", "[{{ customer.nickname }}][{{ nothing.at.all }}]",
                  ).body.startswith("[][]")


def test_translation_for_the_customers_language_replaces_subject_and_body():
    translations = {"zh-hans": {"subject": "你好 {{ customer.name }}", "body": "<p>优惠</p>"}}

    rendered = render("email", "<p>Offer</p>", subject="Hello", language="zh-hans",
                      translations=translations, name="Li")

    assert (rendered.subject, rendered.language) == ("你好 Li", "zh-hans")
    assert rendered.body.startswith("<p>优惠</p>")


def test_a_regional_language_falls_back_to_its_base_language():
    translations = {"zh-hans": {"subject": "你好", "body": "优惠"}}

    rendered = render("sms", "Offer", language="zh-hans-cn", translations=translations)

    assert (rendered.body.split("\n")[0], rendered.language) == ("优惠", "zh-hans")


def test_a_language_without_translation_gets_the_default_text():
    rendered = render("sms", "Offer", language="fr", translations={"zh-hans": {"body": "优惠"}})

    assert (rendered.body.split("\n")[0], rendered.language) == ("Offer", "")


def test_dates_are_written_in_the_customers_language():
    body = "{{ coupon.expires_at|date:'F j' }}"

    english, chinese = render("sms", body), render("sms", body, language="zh-hans")

    assert english.body.startswith("January 21")
    assert chinese.body.startswith("一月 21")


def test_email_without_an_unsubscribe_link_gets_one_added():
    rendered = render("email", "<p>Offer</p>")

    assert 'href="http://127.0.0.1:8000/u/preview/"' in rendered.body
    assert "Unsubscribe (http://127.0.0.1:8000/u/preview/)" in rendered.text


def test_sms_without_an_unsubscribe_link_gets_one_added():
    rendered = render("sms", "Offer")

    assert rendered.body == "Offer\nUnsubscribe: http://127.0.0.1:8000/u/preview/"


def test_a_template_with_its_own_unsubscribe_link_gets_no_second_one():
    rendered = render("email", '<a href="{{ unsubscribe_url }}">Stop</a>')

    assert rendered.body.count("/u/preview/") == 1


def test_the_text_alternative_keeps_links_and_paragraphs():
    text = rendering.html_to_text(
        "<style>p{}</style><h1>Sale</h1><p>Up to <b>50%</b> &amp; more</p>"
        '<p><a href="https://shop.example.com/">Shop now</a><br>Bye</p>')

    assert text == "Sale\nUp to 50% & more\nShop now (https://shop.example.com/)\nBye"


def test_webhook_body_strings_are_escaped_for_json():
    rendered = render("webhook", '{"name": "{{ customer.name }}", "c": {{ json.coupon }}}',
                      name='Ann "the" \\ one')

    payload = json.loads(rendered.body)
    assert payload["name"] == 'Ann "the" \\ one'
    assert payload["c"]["code"] == "SAMPLE-7KQ4D-MX2PB"


@pytest.mark.parametrize("source", ["{% load i18n %}x", "{% include 'base.html' %}",
                                    "{% extends 'base.html' %}", "{% debug %}"])
def test_the_sandbox_has_no_tag_libraries_loaders_or_debug(source):
    with pytest.raises(TemplateSyntaxError):
        rendering.compile_template(CHANNELS["sms"], "", source)


def test_a_template_cannot_change_the_values_it_reads():
    values = context()
    rendered = rendering.compile_template(
        CHANNELS["sms"], "", "{{ customer.clear }}{{ customer.tags.pop }}|{{ customer.name }}",
    ).render(values)

    assert rendered.body.startswith("|Alex Sample")
    assert values["customer"]["name"] == "Alex Sample"


@pytest.mark.django_db
@pytest.mark.parametrize(("fields", "field"), [
    ({"body": "{% if %}"}, "body"),
    ({"subject": "{{ x|nofilter }}"}, "subject"),
    ({"translations": {"zh-hans": {"body": "{% for %}"}}}, "translations.zh-hans.body"),
    ({"translations": {"zh hans": {"body": "x"}}}, "translations.zh hans"),
    ({"translations": {"zh-hans": "x"}}, "translations.zh-hans"),
    ({"subject": ""}, "subject"),
])
def test_a_broken_template_is_refused_at_save_naming_the_field(fields, field):
    template = MessageTemplate(name="t", channel="email", subject="Hi", body="x")

    with pytest.raises(Invalid) as refused:
        template_save(template, **fields)

    assert [problem[0] for problem in refused.value.problems] == [field]
    assert not MessageTemplate.objects.exists()


@pytest.mark.django_db
def test_a_webhook_body_that_is_not_json_is_refused_at_save():
    with pytest.raises(Invalid) as refused:
        template_save(MessageTemplate(name="t", channel="webhook"), body='{"a": {{ x }}')

    assert refused.value.problems[0][0] == "body"
    assert "JSON" in refused.value.problems[0][1]


@pytest.mark.django_db
def test_translation_keys_are_stored_in_lower_case():
    template = template_save(MessageTemplate(name="t", channel="sms"), body="x",
                             translations={"zh-Hans": {"body": "y"}})

    assert template.translations == {"zh-hans": {"body": "y"}}
