// Translated labels of config fields and choices. The palette's schemas carry English titles
// (pydantic's); these literal gettext calls let makemessages find them, and a field not listed
// falls back to its schema title.
import { gettext } from "../../../customers/frontend/lib/i18n.js";

export function fieldLabel(key, property) {
  const labels = {
    segment: gettext("Segment"),
    to_stage: gettext("To stage"),
    from_stage: gettext("From stage"),
    name: gettext("Event name"),
    properties: gettext("Event properties"),
    min_amount: gettext("Minimum amount"),
    at: gettext("At (one-off broadcast)"),
    time: gettext("Time of day"),
    weekdays: gettext("Weekdays"),
    local_time: gettext("In the customer's time zone"),
    days: gettext("Days"),
    hours: gettext("Hours"),
    minutes: gettext("Minutes"),
    field: gettext("Date field"),
    offset_days: gettext("Offset (days)"),
    annual: gettext("Every year"),
    kind: gettext("Wait for"),
    timeout: gettext("Timeout"),
    rule: gettext("Rule (JsonLogic)"),
    branches: gettext("Branches"),
    definition: gettext("Coupon definition"),
    channel: gettext("Channel"),
    template: gettext("Message template"),
    webhook: gettext("Webhook endpoint"),
    tag: gettext("Tag"),
    key: gettext("Attribute key"),
    value: gettext("Value"),
  };
  return labels[key] || property?.title || key;
}

export function choiceLabel(value) {
  const labels = {
    prospect: gettext("Prospect"),
    new: gettext("New"),
    active: gettext("Active"),
    dormant: gettext("Dormant"),
    churned: gettext("Churned"),
    order: gettext("An order"),
    event: gettext("An event"),
    email: gettext("Email"),
    sms: gettext("SMS"),
    inbox: gettext("Inbox"),
  };
  return labels[value] || String(value);
}

export function portLabel(port) {
  const labels = {
    next: gettext("next"),
    yes: gettext("yes"),
    no: gettext("no"),
    issued: gettext("issued"),
    not_issued: gettext("not issued"),
    happened: gettext("happened"),
    timeout: gettext("timeout"),
    missing: gettext("missing"),
  };
  return labels[port] || port;
}

export function weekdayNames() {
  return [gettext("Mon"), gettext("Tue"), gettext("Wed"), gettext("Thu"), gettext("Fri"),
    gettext("Sat"), gettext("Sun")];
}

export function categoryLabel(category) {
  const labels = {
    trigger: gettext("Triggers"),
    wait: gettext("Waits"),
    logic: gettext("Conditions and splits"),
    action: gettext("Actions"),
    exit: gettext("Exit"),
  };
  return labels[category] || category;
}
