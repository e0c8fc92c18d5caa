"""A thread that runs an iterator ahead of its consumer."""

import queue
import threading
from collections.abc import Iterator
from typing import Any


class ReadAhead:
    """Iterates `source` in a thread, a few items ahead of the consumer, so that Python's work
    on the next items overlaps the database's on this one (psycopg and sqlite3 release the
    GIL while they wait). Exceptions reach the consumer in order."""

    _DONE = object()

    def __init__(self, source: Iterator[Any], depth: int = 2):
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(source,), daemon=True,
                                       name="csv-import-read-ahead")

    def _run(self, source: Iterator[Any]) -> None:
        try:
            for item in source:
                if not self._put(item):
                    return
            self._put(self._DONE)
        except Exception as exc:  # handed to the consumer, who raises it
            self._put(exc)

    def _put(self, item: Any) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def __iter__(self) -> Iterator[Any]:
        self.thread.start()
        while (item := self.queue.get()) is not self._DONE:
            if isinstance(item, Exception):
                raise item
            yield item

    def close(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join()
