"""The delivery controls' screen on hand-made inputs (pure: no database), one rule at a time:
consent, address, suppression, quiet hours (across midnight, time zones, a DST day),
priority and frequency caps (across campaigns, per channel, within one batch)."""

import datetime as dt

import pytest

from campaigns.services.controls import (
    DEFER,
    SEND,
    SKIP,
    Candidate,
    Recipient,
    Rules,
    ScreenInputs,
    Touch,
    quiet_until,
    screen,
)

UTC = dt.UTC
NOW = dt.datetime(2026, 1, 14, 12, 0, tzinfo=UTC)  # a Wednesday in winter, noon UTC


def recipient(pk=1, *, email="ann@example.com", phone="+1 555 0100", email_consent=True,
              sms_consent=True, time_zone="UTC") -> Recipient:
    return Recipient(pk, email, phone, email_consent, sms_consent, time_zone)


def inputs(*recipients, touches=(), suppressed=(), **rules) -> ScreenInputs:
    people = recipients or (recipient(),)
    return ScreenInputs({r.id: r for r in people}, list(touches), set(suppressed),
                        Rules(**rules))


def decide(candidate: Candidate, now=NOW, **kwargs):
    [decision] = screen([candidate], inputs=inputs(**kwargs), now=now)
    return decision


def touch(*, customer=1, channel="email", campaign=2, priority=0, at=NOW, status="sent"):
    return Touch(customer, channel, campaign, priority, at, status)


EMAIL = Candidate(key=10, customer_id=1, channel="email", campaign_id=1)


# --- consent, address, suppression -----------------------------------------------------------

def test_email_without_consent_is_skipped_no_consent():
    [decision] = screen([EMAIL], inputs=inputs(recipient(email_consent=False)), now=NOW)

    assert (decision.action, decision.reason) == (SKIP, "no_consent")


def test_sms_needs_sms_consent_not_email_consent():
    sms = Candidate(key=11, customer_id=1, channel="sms", campaign_id=1)

    [decision] = screen([sms], inputs=inputs(recipient(sms_consent=False)), now=NOW)

    assert decision.reason == "no_consent"


def test_inbox_needs_no_consent():
    inbox = Candidate(key=12, customer_id=1, channel="inbox", campaign_id=1)

    [decision] = screen([inbox], inputs=inputs(recipient(email_consent=False,
                                                         sms_consent=False)), now=NOW)

    assert decision.action == SEND


def test_customer_without_email_address_is_skipped_no_address():
    [decision] = screen([EMAIL], inputs=inputs(recipient(email="")), now=NOW)

    assert (decision.action, decision.reason) == (SKIP, "no_address")


def test_address_is_the_customers_email_in_lower_case():
    [decision] = screen([EMAIL], inputs=inputs(recipient(email="Ann@Example.COM")), now=NOW)

    assert (decision.action, decision.address) == (SEND, "ann@example.com")


def test_suppressed_address_is_skipped_suppressed():
    decision = decide(EMAIL, suppressed=[("email", "ann@example.com")])

    assert (decision.action, decision.reason) == (SKIP, "suppressed")


def test_suppression_on_another_channel_does_not_apply():
    decision = decide(EMAIL, suppressed=[("sms", "ann@example.com")])

    assert decision.action == SEND


def test_a_test_send_passes_every_control():
    test = Candidate(key=13, customer_id=1, channel="email", test=True,
                     address="qa@example.com")

    [decision] = screen([test], inputs=inputs(
        recipient(email_consent=False), suppressed=[("email", "qa@example.com")],
        cap_messages=1, touches=[touch()]), now=NOW)

    assert (decision.action, decision.address) == (SEND, "qa@example.com")


# --- quiet hours -----------------------------------------------------------------------------

EVENING_TO_MORNING = {"quiet_start": dt.time(21), "quiet_end": dt.time(9),
                      "quiet_channels": frozenset({"email", "sms"})}


def test_message_in_quiet_hours_is_deferred_to_their_end_not_dropped():
    late = dt.datetime(2026, 1, 14, 22, 30, tzinfo=UTC)

    decision = decide(EMAIL, now=late, **EVENING_TO_MORNING)

    assert (decision.action, decision.reason) == (DEFER, "quiet_hours")
    assert decision.due_at == dt.datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


def test_quiet_hours_after_midnight_end_the_same_morning():
    early = dt.datetime(2026, 1, 15, 3, 0, tzinfo=UTC)

    assert decide(EMAIL, now=early, **EVENING_TO_MORNING).due_at == \
        dt.datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


def test_outside_quiet_hours_the_message_is_sent():
    assert decide(EMAIL, now=NOW, **EVENING_TO_MORNING).action == SEND


def test_quiet_hours_end_is_not_quiet():
    nine = dt.datetime(2026, 1, 15, 9, 0, tzinfo=UTC)

    assert decide(EMAIL, now=nine, **EVENING_TO_MORNING).action == SEND


def test_quiet_hours_are_read_in_the_customers_time_zone():
    # 14:00 UTC is 22:00 in Shanghai (quiet) and 14:00 in London (not).
    afternoon = dt.datetime(2026, 1, 14, 14, 0, tzinfo=UTC)
    shanghai, london = recipient(1, time_zone="Asia/Shanghai"), recipient(2,
                                                                          time_zone="Europe/London")
    to_london = Candidate(key=20, customer_id=2, channel="email", campaign_id=1)

    decisions = screen([EMAIL, to_london], inputs=inputs(shanghai, london, **EVENING_TO_MORNING),
                       now=afternoon)

    assert [d.action for d in decisions] == [DEFER, SEND]
    assert decisions[0].due_at == dt.datetime(2026, 1, 15, 1, 0, tzinfo=UTC)  # 09:00 +08:00


def test_quiet_hours_end_on_a_daylight_saving_day_at_the_new_offset():
    # New York springs forward on 2026-03-08: 09:00 that morning is UTC-4 (13:00 UTC).
    midnight = dt.datetime(2026, 3, 8, 5, 0, tzinfo=UTC)  # 00:00 EST

    until = quiet_until(Rules(**EVENING_TO_MORNING), "email",
                        recipient(time_zone="America/New_York").zone, midnight)

    assert until == dt.datetime(2026, 3, 8, 13, 0, tzinfo=UTC)


def test_a_window_that_does_not_wrap_midnight():
    lunch = Rules(quiet_start=dt.time(12), quiet_end=dt.time(14),
                  quiet_channels=frozenset({"email"}))
    tz = recipient().zone

    assert quiet_until(lunch, "email", tz, NOW.replace(hour=13)) == NOW.replace(hour=14)
    assert quiet_until(lunch, "email", tz, NOW.replace(hour=15)) is None


def test_quiet_hours_apply_only_to_their_channels():
    late = dt.datetime(2026, 1, 14, 22, 30, tzinfo=UTC)
    inbox = Candidate(key=12, customer_id=1, channel="inbox", campaign_id=1)

    assert decide(inbox, now=late, **EVENING_TO_MORNING).action == SEND


# --- priority --------------------------------------------------------------------------------

LOW = Candidate(key=30, customer_id=1, channel="email", campaign_id=1, priority=1)


def test_lower_priority_campaign_is_skipped_when_a_higher_one_sent_today():
    decision = decide(LOW, touches=[touch(campaign=2, priority=5, at=NOW.replace(hour=8))])

    assert (decision.action, decision.reason) == (SKIP, "priority")


def test_a_higher_priority_message_due_later_today_also_wins():
    due = touch(campaign=2, priority=5, at=NOW.replace(hour=18), status="queued")

    assert decide(LOW, touches=[due]).reason == "priority"


def test_a_higher_priority_message_yesterday_does_not_block():
    yesterday = touch(campaign=2, priority=5, at=NOW - dt.timedelta(hours=13))

    assert decide(LOW, touches=[yesterday]).action == SEND


def test_same_day_is_the_customers_day():
    # Sent 23:00 in Shanghai yesterday (15:00 UTC); now is 01:00 there (17:00 UTC).
    now = dt.datetime(2026, 1, 14, 17, 0, tzinfo=UTC)
    earlier = touch(campaign=2, priority=5, at=dt.datetime(2026, 1, 14, 15, 0, tzinfo=UTC))

    in_shanghai = screen([LOW], inputs=inputs(recipient(time_zone="Asia/Shanghai"),
                                              touches=[earlier]), now=now)
    in_utc = screen([LOW], inputs=inputs(recipient(), touches=[earlier]), now=now)

    assert (in_shanghai[0].action, in_utc[0].reason) == (SEND, "priority")


def test_equal_or_lower_priority_and_the_same_campaign_do_not_block():
    touches = [touch(campaign=2, priority=1), touch(campaign=3, priority=0),
               touch(campaign=1, priority=9)]

    assert decide(LOW, touches=touches).action == SEND


def test_within_one_batch_the_higher_priority_campaign_sends():
    high = Candidate(key=31, customer_id=1, channel="sms", campaign_id=2, priority=5)

    decisions = screen([LOW, high], inputs=inputs(), now=NOW)

    assert [(d.action, d.reason) for d in decisions] == [(SKIP, "priority"), (SEND, "")]


# --- frequency caps --------------------------------------------------------------------------

def test_cap_counts_messages_across_campaigns_and_channels():
    touches = [touch(campaign=2, channel="sms", at=NOW - dt.timedelta(days=1)),
               touch(campaign=3, channel="inbox", at=NOW - dt.timedelta(days=6))]

    decision = decide(EMAIL, touches=touches, cap_messages=2, cap_days=7)

    assert (decision.action, decision.reason) == (SKIP, "frequency_cap")


def test_messages_older_than_the_cap_window_do_not_count():
    old = [touch(at=NOW - dt.timedelta(days=8)), touch(at=NOW - dt.timedelta(days=7, hours=1))]

    assert decide(EMAIL, touches=old, cap_messages=2, cap_days=7).action == SEND


def test_queued_messages_do_not_count_against_the_cap():
    queued = [touch(status="queued"), touch(status="queued")]

    assert decide(EMAIL, touches=queued, cap_messages=1, cap_days=7).action == SEND


def test_messages_being_sent_count_against_the_cap():
    assert decide(EMAIL, touches=[touch(status="sending")], cap_messages=1).reason == \
        "frequency_cap"


def test_zero_means_no_cap():
    assert decide(EMAIL, touches=[touch()] * 10, cap_messages=0).action == SEND


def test_channel_cap_applies_on_top_of_the_overall_cap():
    sms = Candidate(key=40, customer_id=1, channel="sms", campaign_id=1)
    rules = {"cap_messages": 5, "cap_days": 7, "channel_caps": {"sms": (1, 7)}}
    touches = [touch(channel="sms", at=NOW - dt.timedelta(days=2))]

    decisions = screen([sms, EMAIL], inputs=inputs(touches=touches, **rules), now=NOW)

    assert [(d.action, d.reason) for d in decisions] == [(SKIP, "frequency_cap"), (SEND, "")]


def test_messages_of_the_same_batch_count_against_each_other():
    second = Candidate(key=41, customer_id=1, channel="sms", campaign_id=2)
    other_customer = Candidate(key=42, customer_id=2, channel="email", campaign_id=1)

    decisions = screen([EMAIL, second, other_customer],
                       inputs=inputs(recipient(1), recipient(2, email="bo@example.com"),
                                     cap_messages=1), now=NOW)

    assert [(d.action, d.reason) for d in decisions] == [
        (SEND, ""), (SKIP, "frequency_cap"), (SEND, "")]


def test_webhooks_are_not_capped_and_need_no_consent():
    hook = Candidate(key=43, customer_id=1, channel="webhook", campaign_id=1,
                     address="https://hooks.example.com/x")

    [decision] = screen([hook], inputs=inputs(recipient(email_consent=False),
                                              touches=[touch()], cap_messages=1), now=NOW)

    assert (decision.action, decision.address) == (SEND, "https://hooks.example.com/x")


@pytest.mark.parametrize("channel", ["email", "sms", "inbox", "webhook"])
def test_every_channel_is_screened(channel):
    candidate = Candidate(key=1, customer_id=1, channel=channel, campaign_id=1,
                          address="https://hooks.example.com/x" if channel == "webhook" else "")

    [decision] = screen([candidate], inputs=inputs(), now=NOW)

    assert decision.action == SEND
