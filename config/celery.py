"""The Celery app and the whole beat schedule.

Beat entries are synced into django-celery-beat's tables at start, so operators can change
times in the admin; each entry says why it exists.
"""

import gc
import os

from celery import Celery
from celery.schedules import crontab
from celery.signals import task_postrun, task_prerun, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("retentio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# A worker keeps its database connection from task to task as a web process does between
# requests (CONN_MAX_AGE, health checks, closed once broken); Celery's own closing is spaced
# out by CELERY_DB_REUSE_MAX (config/settings.py).
@task_prerun.connect
@task_postrun.connect
def _close_old_connections(sender=None, **kwargs) -> None:
    if getattr(sender.request, "is_eager", False):
        return  # inside the caller's own transaction (tests run tasks eagerly)
    from django.db import close_old_connections

    close_old_connections()


# What a worker process has loaded once it starts lives as long as the process: frozen, full
# collections no longer rescan it (as config/wsgi.py does for the web). A batch allocates
# some 100,000 objects, nearly all freed when it ends: young collections every 10,000
# allocations instead of 700 find the same garbage with a fraction of the passes.
# bench/dispatch.py: the runner spent 38 ms of each batch of 1,000 in the collector, 12-19 ms
# once frozen, ~5 ms with the threshold too.
@worker_process_init.connect
def _tune_collector(**kwargs) -> None:
    import config.urls  # noqa: F401 - views, services, DRF and pydantic, before freezing

    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


app.conf.beat_schedule = {
    # RFM quintiles, recency and lifecycle stages drift with the calendar even when no order
    # arrives, so every customer is recomputed once a night (set-based, one pass).
    "customers.recompute-metrics-nightly": {
        "task": "customers.recompute_metrics",
        "schedule": crontab(hour=2, minute=15),
    },
    # Predicted CLV, churn probability and the value coefficient are refitted to the day's
    # orders once a night, after the metrics; operators can refit at once from the model page.
    "customers.fit-value-model-nightly": {
        "task": "customers.fit_value_model",
        "schedule": crontab(hour=3, minute=0),
    },
    # Birthday, "dormant 90 days" and other time-dependent segments move with the clock; this
    # queues each segment whose own refresh interval (hourly for those) has passed.
    "segments.evaluate-due": {
        "task": "segments.evaluate_due",
        "schedule": crontab(minute="*/5"),
    },
    # Campaigns: reads every trigger (segment changes, events, schedules), takes back
    # deliveries whose dispatcher died, and starts runner and dispatcher when work is due.
    # Every event-driven kick has this minute-by-minute safety net under it.
    "campaigns.sweep": {
        "task": "campaigns.sweep",
        "schedule": 60.0,
    },
    # A results page must open at once; aggregating a million journeys takes seconds, so the
    # figures of every running campaign are recomputed into the cache in the background.
    "campaigns.refresh-results": {
        "task": "campaigns.refresh_results",
        "schedule": crontab(minute="*/5"),
    },
}
