"""A Celery worker keeps its PostgreSQL connection from one task to the next (Celery would
close it around every task: a new database session for each batch of 1,000 journeys)."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from campaigns.tasks import sweep_task
from config.celery import app

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
TIMEOUT = 60


def _worker() -> subprocess.Popen:
    database = connection.settings_dict
    env = {**os.environ,
           "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:"
                           f"{database['PORT']}/{database['NAME']}",
           "CELERY_BROKER_URL": settings.CELERY_BROKER_URL}
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "prefork", "-c", "1",
         "--loglevel=WARNING", "--without-mingle", "--without-gossip", "--without-heartbeat"],
        env=env, cwd=settings.BASE_DIR)


def _other_sessions() -> set[int]:
    """Backends connected to the test database, but for this test's own."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                       "AND pid <> pg_backend_pid()")
        return {pid for (pid,) in cursor.fetchall()}


def test_a_worker_runs_its_tasks_on_one_database_session(transactional_db):
    app.control.purge()
    worker = _worker()
    try:
        sweep_task.delay().get(timeout=TIMEOUT)  # the worker process has connected
        sessions = _other_sessions()
        for _task in range(3):
            sweep_task.delay().get(timeout=TIMEOUT)

        assert sessions  # still open after its task
        assert _other_sessions() == sessions  # the same one, not one per task
    finally:
        worker.terminate()
        worker.wait(timeout=30)
