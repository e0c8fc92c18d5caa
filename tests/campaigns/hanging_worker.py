"""A Celery worker that hangs inside the runner's transaction, once its batch's effects are
written but before they commit, so a test can kill it there (python -m ...)."""

import os
import pathlib
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from campaigns.signals import batch_executed  # noqa: E402 - after django.setup()
from config.celery import app  # noqa: E402


def hang(sender, journey_ids, **kwargs) -> None:
    pathlib.Path(os.environ["HANG_MARKER"]).write_text(str(len(journey_ids)))
    time.sleep(600)  # killed long before


batch_executed.connect(hang)
app.worker_main(["worker", "--pool=solo", "--loglevel=WARNING", "--without-mingle",
                 "--without-gossip", "--without-heartbeat"])
