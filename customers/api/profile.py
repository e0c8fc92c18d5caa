"""Sections other apps add to a customer's profile (GET /api/v1/customers/{external_id}/).

customers imports no app built on it, so those apps register here, in their
AppConfig.ready(), what they add: a read-only serializer field named after the section, and
the prefetches that field reads so one profile stays a fixed number of queries.

    register_section(ProfileSection("segments", field=lambda: ..., prefetch=(...,)))
"""

import dataclasses
from collections.abc import Callable

from django.db.models import Prefetch, QuerySet
from rest_framework import serializers

from customers.api.serializers import CustomerOutputSerializer
from customers.models import Customer


@dataclasses.dataclass(frozen=True)
class ProfileSection:
    name: str  # the key in the profile; never renamed
    field: Callable[[], serializers.Field]  # a new read-only field for each serializer
    prefetch: tuple[str | Prefetch, ...] = ()


SECTIONS: dict[str, ProfileSection] = {}


def register_section(section: ProfileSection) -> None:
    if section.name in CustomerOutputSerializer.Meta.fields:
        raise ValueError(f"profile section {section.name!r} would hide a customer field")
    SECTIONS[section.name] = section  # by name: registering again replaces, never doubles


def with_sections(customers: QuerySet[Customer]) -> QuerySet[Customer]:
    """`customers` with what the registered sections read prefetched."""
    lookups = [lookup for section in SECTIONS.values() for lookup in section.prefetch]
    return customers.prefetch_related(*lookups) if lookups else customers


class CustomerProfileOutputSerializer(CustomerOutputSerializer):
    """The customer, its metrics, and every registered section."""

    def get_fields(self):
        fields = super().get_fields()
        for section in SECTIONS.values():
            fields[section.name] = section.field()
        return fields
