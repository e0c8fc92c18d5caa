"""Gunicorn's settings, read from the working directory by `gunicorn config.wsgi`.

Threads (gthread) rather than Gunicorn's default sync workers: a sync worker serving one
request for longer than `timeout` (30 s) is killed, and a segment's member export streams for
tens of seconds at a million members; a threaded worker keeps telling the arbiter it is alive
while its threads serve. Anything here can be overridden on the command line or in
GUNICORN_CMD_ARGS (bench/ingest.py passes its own workers and threads).
"""

import os

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = 4
