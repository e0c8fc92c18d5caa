"""A Celery worker that hangs in the runner, so a test can kill it there (python -m ...):
inside the runner's transaction, once its batch's effects are written but before they
commit (HANG_AT=executed, the default), or after the commit, before the batch sends the
messages it claimed (HANG_AT=committed)."""

import os
import pathlib
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from campaigns.signals import batch_committed, batch_executed  # noqa: E402 - after setup
from config.celery import app  # noqa: E402


def hang(sender, **kwargs) -> None:
    pathlib.Path(os.environ["HANG_MARKER"]).write_text("here")
    time.sleep(600)  # killed long before


{"executed": batch_executed, "committed": batch_committed}[
    os.environ.get("HANG_AT", "executed")].connect(hang)
app.worker_main(["worker", "--pool=solo", "--loglevel=WARNING", "--without-mingle",
                 "--without-gossip", "--without-heartbeat"])
