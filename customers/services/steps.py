"""Long set-based jobs report each finished step with its duration, for the management
commands to print as they go (the Celery tasks pass no reporter)."""

import time
from collections.abc import Callable

Step = Callable[[str], None]


def _quiet(_line: str) -> None:
    return None


class StepClock:
    """Reports each finished step with the time it took since the previous one."""

    def __init__(self, on_step: Step | None = None) -> None:
        self.on_step = on_step or _quiet
        self.started = self.last = time.monotonic()

    def step(self, line: str) -> None:
        now = time.monotonic()
        self.on_step(f"{line} ({now - self.last:.2f} s)")
        self.last = now

    @property
    def elapsed_ms(self) -> int:
        return round((time.monotonic() - self.started) * 1000)
