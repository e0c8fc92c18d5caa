import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from customers.models import Customer
from customers.services.erasure import customer_erase

MAX_ID_LENGTH = Customer._meta.get_field("external_id").max_length
LOOKUP_CHUNK = 1000


def read_ids(path: Path) -> list[str]:
    """The external ids of a file, one a line (blank lines and # comments skipped), in file
    order without repeats. Raises CommandError for a file that cannot be read as text."""
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"Cannot read {path}: {exc}") from exc
    ids = [line.strip() for line in text.splitlines()]
    return list(dict.fromkeys(i for i in ids if i and not i.startswith("#")))


def _known(ids: list[str]) -> dict[str, int]:
    """The customers not yet erased among `ids`, by external id (looked up a chunk at a
    time: a query's parameters are limited)."""
    known = {}
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[start:start + LOOKUP_CHUNK]
        known.update(Customer.objects.filter(external_id__in=chunk, erasure__isnull=True)
                     .values_list("external_id", "pk"))
    return known


class Command(BaseCommand):
    help = (
        "Erase the personal data of the customers whose external ids FILE lists, one a line "
        "('-' reads standard input), as DELETE /api/v1/customers/{id}/ does: each in its own "
        "transaction, so an interruption loses nothing done. Running it again changes "
        "nothing. See docs/operators.md, 'Erasing a customer's personal data'."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--requested-by", required=True,
                            help="Who asked, as the erasure records it (e.g. 'privacy ticket "
                                 "4711').")
        parser.add_argument("--dry-run", action="store_true",
                            help="Only say which ids would be erased and which are unknown.")

    def handle(self, *args, file, requested_by, dry_run, **options):
        requested_by = requested_by.strip()
        if not requested_by:
            raise CommandError("--requested-by must say who asked")
        ids = read_ids(file)
        too_long = [i for i in ids if len(i) > MAX_ID_LENGTH]
        if too_long:
            raise CommandError(f"Not an external id (over {MAX_ID_LENGTH} characters): "
                               f"{too_long[0][:40]}...; nothing was erased.")
        known = _known(ids)
        unknown = [i for i in ids if i not in known]
        if dry_run:
            self.stdout.write(f"Would erase {len(known):,} customers; "
                              f"{len(unknown):,} unknown or already erased.")
        else:
            erased = self._erase(known, f"{requested_by} (erase_customers)")
            self.stdout.write(f"Erased the personal data of {erased:,} customers; "
                              f"{len(ids) - erased:,} unknown or already erased.")
        for external_id in unknown:
            self.stdout.write(f"  not found: {external_id}")

    def _erase(self, known: dict[str, int], requested_by: str) -> int:
        erased = 0
        for customer_id in tqdm(known.values(), desc="erasing", unit=" customers",
                                file=sys.stderr, disable=None):
            erased += customer_erase(customer_id=customer_id,
                                     requested_by=requested_by) is not None
        return erased
