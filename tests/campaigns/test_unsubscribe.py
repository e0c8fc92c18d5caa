"""One-click unsubscribe as a customer meets it: the link in a message, the page, the
button, the mail client's one-click POST (RFC 8058), and tampered links."""

import datetime as dt
import re

import pytest
from django.core import mail
from django.test import Client

from campaigns.models import Suppression
from campaigns.services.dispatch import deliveries_dispatch
from campaigns.services.unsubscribe import suppression_add, unsubscribe_token
from customers.models import Customer
from tests.campaigns.factories import DeliveryFactory
from tests.customers.factories import CustomerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("delivery_settings")]


@pytest.fixture
def ann():
    return CustomerFactory(email="ann@example.com", email_consent=True, sms_consent=True,
                           phone="+1 555 0100")


def path(customer, channel="email") -> str:
    return f"/u/{unsubscribe_token(customer.pk, channel)}/"


def test_the_link_in_an_email_opens_the_unsubscribe_page(ann):
    DeliveryFactory(customer=ann)
    deliveries_dispatch()
    link = re.search(r"<(http://127\.0\.0\.1:8000(/u/[^>]+))>",
                     mail.outbox[0].extra_headers["List-Unsubscribe"]).group(2)

    page = Client().get(link)

    assert page.status_code == 200
    assert b"Stop emails to a***@example.com?" in page.content
    assert b'<button type="submit"' in page.content


def test_the_page_alone_changes_nothing(ann):
    Client().get(path(ann))

    ann.refresh_from_db()
    assert ann.email_consent is True
    assert not Suppression.objects.exists()


def test_the_button_withdraws_consent_and_suppresses_the_address(ann):
    response = Client(enforce_csrf_checks=True).post(path(ann))

    assert response.status_code == 200
    assert b"You are unsubscribed" in response.content
    assert b"You will no longer receive emails from us at a***@example.com." in response.content
    ann.refresh_from_db()
    assert (ann.email_consent, ann.sms_consent) == (False, True)
    assert ann.email_consent_at is not None
    assert list(Suppression.objects.values_list("channel", "address", "reason")) == [
        ("email", "ann@example.com", "unsubscribed")]


def test_a_mail_clients_one_click_post_needs_no_csrf_token(ann):
    response = Client(enforce_csrf_checks=True).post(
        path(ann), {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    assert Customer.objects.get(pk=ann.pk).email_consent is False


def test_unsubscribing_twice_changes_nothing_more(ann):
    Client().post(path(ann))
    first = Customer.objects.get(pk=ann.pk).email_consent_at

    again = Client().post(path(ann))

    assert again.status_code == 200
    assert Customer.objects.get(pk=ann.pk).email_consent_at == first
    assert Suppression.objects.count() == 1


def test_the_sms_link_unsubscribes_from_sms_only(ann):
    Client().post(path(ann, "sms"))

    ann.refresh_from_db()
    assert (ann.email_consent, ann.sms_consent) == (True, False)
    assert Suppression.objects.get().address == "+1 555 0100"


@pytest.mark.parametrize("mangle", [
    lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # signature changed
    lambda token: token.replace(token.split(".")[0], "999"),  # another customer's id
    lambda token: "not-a-token",
])
def test_a_tampered_link_is_a_400_page_and_changes_nothing(ann, mangle):
    response = Client().post(f"/u/{mangle(unsubscribe_token(ann.pk, 'email'))}/")

    assert response.status_code == 400
    assert b"This link is not valid" in response.content
    assert Customer.objects.get(pk=ann.pk).email_consent is True


def test_a_token_signed_for_something_else_is_refused(ann):
    from django.core import signing

    foreign = signing.Signer(salt="another.purpose").sign(f"{ann.pk}.email")

    assert Client().get(f"/u/{foreign}/").status_code == 400


def test_an_unsubscribed_customer_gets_no_more_email(ann):
    Client().post(path(ann))
    delivery = DeliveryFactory(customer=ann)

    deliveries_dispatch()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.reason) == ("skipped", "no_consent")


def test_a_bounced_address_is_suppressed_even_with_consent(ann):
    assert suppression_add("email", "Ann@Example.com", Suppression.Reason.BOUNCED)
    assert not suppression_add("email", "ann@example.com", Suppression.Reason.COMPLAINED)
    delivery = DeliveryFactory(customer=ann, due_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))

    deliveries_dispatch()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.reason) == ("skipped", "suppressed")
