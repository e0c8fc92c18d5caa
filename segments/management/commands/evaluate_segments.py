from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from segments.models import Segment
from segments.rules import RuleError
from segments.services.evaluation import segment_evaluate, segments_in_order


class Command(BaseCommand):
    help = "Evaluate segments now, synchronously: every active one, or --segment ID."

    def add_arguments(self, parser):
        parser.add_argument("--segment", type=int, action="append", dest="segments",
                            metavar="ID", help="only this segment (repeatable)")

    def handle(self, *args, segments=None, **options):
        chosen = Segment.objects.filter(pk__in=segments) if segments \
            else Segment.objects.filter(is_active=True)
        chosen = segments_in_order(list(chosen))
        missing = set(segments or []) - {segment.pk for segment in chosen}
        if missing:
            raise CommandError(f"No segment with id {', '.join(map(str, sorted(missing)))}.")
        for segment in tqdm(chosen, desc="segments", unit="segment",
                            disable=len(chosen) < 2 or not self.stdout.isatty()):
            try:
                outcome = segment_evaluate(segment.pk)
            except RuleError as exc:
                self.stderr.write(f"{segment.pk} {segment.name}: rule is invalid: {exc}")
                continue
            state = "skipped (another evaluation is running)" if outcome.skipped else (
                f"{outcome.size} members, +{outcome.entered} -{outcome.exited}, "
                f"{outcome.duration_ms} ms")
            self.stdout.write(f"{segment.pk} {segment.name}: {state}")
