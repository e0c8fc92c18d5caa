import sys
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from customers.services.csv_import import DEFAULT_BATCH_SIZE as BATCH
from customers.services.csv_import import DEFAULT_STOREFRONT as STOREFRONT
from customers.services.csv_import import KINDS, CsvImportError, ImportReport, csv_import


class Command(BaseCommand):
    help = (
        "Import customers, orders or events from a CSV file whose columns are the API's field "
        "names (see docs/csv.md). Streams files of any size; importing a file twice changes "
        "nothing. Rejected rows are listed with their line numbers and reasons."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=list(KINDS))
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--storefront", default=STOREFRONT,
            help=f"Storefront the orders and events came from (created if missing; default "
                 f"{STOREFRONT!r}). Times without a zone are read in its time zone.")
        parser.add_argument("--batch-size", type=int, default=BATCH,
                            help=f"Rows per chunk ({BATCH:,}). PostgreSQL: one transaction "
                                 "for the whole file, a savepoint per chunk; SQLite: one "
                                 "transaction per chunk.")
        parser.add_argument(
            "--rejects", type=Path, default=None,
            help="Where to write the rejected rows (line, field, reason). "
                 "Default: FILE's name + .rejected.csv in the current directory.")
        parser.add_argument("--recompute", action="store_true",
                            help="Recompute every customer's metrics after the import.")

    def handle(self, *args, kind, file, storefront, batch_size, rejects, recompute, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        rejects = rejects or Path.cwd() / f"{file.name}.rejected.csv"
        size = file.stat().st_size if file.is_file() else 0
        with tqdm(total=size, unit="B", unit_scale=True, desc=file.name, file=sys.stderr,
                  disable=None) as bar:
            try:
                report = csv_import(kind=kind, path=file, storefront_name=storefront,
                                    batch_size=batch_size, rejects_path=rejects,
                                    progress=lambda done: bar.update(done - bar.n))
            except CsvImportError as exc:
                raise CommandError(str(exc)) from exc
        self._print(report)
        self._metrics(recompute, wrote=bool(report.created or report.updated))

    def _print(self, report: ImportReport) -> None:
        rate = report.rows / report.seconds if report.seconds else 0
        self.stdout.write(
            f"{report.kind}: {report.rows:,} rows in {report.seconds:.1f} s ({rate:,.0f} rows/s)"
            f" — {report.created:,} created, {report.updated:,} updated, "
            f"{report.unchanged:,} unchanged or duplicate, {report.rejected:,} rejected.")
        if not report.rejected:
            return
        style = self.style.WARNING
        for reject in report.rejects:
            where = f" {reject.field}" if reject.field else ""
            self.stdout.write(style(f"  line {reject.line}{where}: {reject.reason}"))
        shown = len({reject.line for reject in report.rejects})
        if shown < report.rejected:
            self.stdout.write(style(f"  ... and {report.rejected - shown:,} more rejected rows"))
        self.stdout.write(f"All rejected rows: {report.rejects_path}")

    def _metrics(self, recompute: bool, *, wrote: bool) -> None:
        if not wrote:
            self.stdout.write("Nothing was written: the metrics are as they were.")
        elif recompute:
            call_command("recompute_metrics", stdout=self.stdout)
        else:
            self.stdout.write("Metrics of the imported customers are now stale: run "
                              "`python manage.py recompute_metrics` (or import with --recompute).")
