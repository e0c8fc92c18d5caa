"""The "segments" section of a customer's profile in the storefront API
(customers/api/profile.py), registered in SegmentsConfig.ready()."""

from django.db.models import Prefetch
from rest_framework import serializers

from customers.api.profile import ProfileSection, register_section
from segments.models import SegmentMembership


class CustomerSegmentOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="segment_id")
    name = serializers.CharField(source="segment.name")
    entered_at = serializers.DateTimeField()


def _segments_field() -> serializers.Field:
    return CustomerSegmentOutputSerializer(
        many=True, read_only=True, source="segment_memberships",
        help_text="The active segments the customer is in, by name, as of each segment's last "
                  "evaluation.")


def register() -> None:
    memberships = (SegmentMembership.objects.filter(segment__is_active=True)
                   .select_related("segment").order_by("segment__name"))
    register_section(ProfileSection(
        "segments", field=_segments_field,
        prefetch=(Prefetch("segment_memberships", queryset=memberships),)))
