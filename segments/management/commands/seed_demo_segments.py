"""For `make run`: a few segments from templates, evaluated, when there are none yet."""

from django.core.management.base import BaseCommand

from segments.library import TEMPLATES
from segments.models import Segment
from segments.services.evaluation import segments_evaluate_all
from segments.services.segments import segment_save

DEMO_TEMPLATES = ["rfm_important_value", "rfm_important_winback", "stage_dormant",
                  "birthday_this_month", "cart_abandoners", "high_value_top_percent"]


class Command(BaseCommand):
    help = "Create and evaluate a few segments from templates if there are no segments yet."

    def handle(self, *args, **options):
        if Segment.objects.exists():
            return
        for key in DEMO_TEMPLATES:
            template = TEMPLATES[key]
            segment_save(Segment(name=str(template.name), description=str(template.description),
                                 template=key, rule=template.rule()), evaluate=False)
        for outcome in segments_evaluate_all():
            segment = Segment.objects.get(pk=outcome.segment_id)
            self.stdout.write(f"Segment {segment.name}: {outcome.size} members")
