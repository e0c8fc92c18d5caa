"""Docs written from a registry by a management command, and the --check that keeps them
from falling behind the code (each command's test runs it)."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class GeneratedDocCommand(BaseCommand):
    """Writes `doc` (relative to BASE_DIR) from render(); --check fails when it is stale."""

    doc: str

    def render(self) -> str:
        raise NotImplementedError  # each command says what its document holds

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true",
                            help="fail if the file differs from what would be written")

    def handle(self, *args, check: bool = False, **options):
        path = Path(settings.BASE_DIR) / self.doc
        text = self.render()
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                raise CommandError(f"{self.doc} is stale; run "
                                   f"`python manage.py {self.__module__.rsplit('.', 1)[-1]}`.")
            self.stdout.write(f"{self.doc} is up to date.")
            return
        path.write_text(text, encoding="utf-8")
        self.stdout.write(f"Wrote {self.doc}.")
