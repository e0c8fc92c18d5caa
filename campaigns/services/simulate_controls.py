"""Delivery controls for the dry run: which customers a message would be skipped for, and
why, decided by the same delivery controls every real send passes through
(campaigns/services/controls.py), reading what they need and writing nothing.

Quiet hours only delay a message, so they skip no one here; messages the dry run counted at
earlier nodes count against the caps like sent ones.
"""

import collections
import datetime
import itertools
from collections.abc import Iterable

from campaigns.models import Campaign, DeliverySettings
from campaigns.services import controls

CHUNK = 5_000  # customers screened at a time: bounded memory, a few queries each


def would_skip(channel: str, customer_ids: set[int], *, now: datetime.datetime,
               simulated: dict[str, collections.Counter], campaign: Campaign
               ) -> dict[int, str]:
    """Customer id -> why a message of `campaign` on `channel` would be skipped now (no
    consent, no address, suppressed, priority, frequency cap), for those it would be."""
    rules = _rules()
    skipped: dict[int, str] = {}
    for chunk in _chunks(sorted(customer_ids)):
        candidates = [controls.Candidate(key=customer_id, customer_id=customer_id,
                                         channel=channel, campaign_id=campaign.pk,
                                         priority=campaign.priority)
                      for customer_id in chunk]
        inputs = controls.screen_inputs(candidates, now=now, rules=rules)
        inputs = _with_simulated(inputs, chunk, simulated, campaign, now)
        skipped.update((decision.key, decision.reason)
                       for decision in controls.screen(candidates, inputs=inputs, now=now)
                       if decision.action == controls.SKIP)
    return skipped


def _rules() -> controls.Rules:
    # Not DeliverySettings.load(): it creates the row, and a dry run writes nothing.
    return controls.Rules.of(DeliverySettings.objects.filter(pk=1).first()
                             or DeliverySettings(quiet_channels=[]))


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    iterator = iter(ids)
    while chunk := list(itertools.islice(iterator, CHUNK)):
        yield chunk


def _with_simulated(inputs: controls.ScreenInputs, chunk: list[int],
                    simulated: dict[str, collections.Counter], campaign: Campaign,
                    now: datetime.datetime) -> controls.ScreenInputs:
    """The screen's inputs plus, as sent now, the messages this dry run already counted."""
    extra = [controls.Touch(customer_id, channel, campaign.pk, campaign.priority, now, "sent")
             for channel, counter in simulated.items()
             for customer_id in chunk for _message in range(counter.get(customer_id, 0))]
    if not extra:
        return inputs
    return controls.ScreenInputs(inputs.recipients, [*inputs.touches, *extra],
                                 inputs.suppressed, inputs.rules)
