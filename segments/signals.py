"""What the segments app announces; campaigns listen, so the dependency keeps pointing one
way.

memberships_changed is sent after an evaluation that let customers in or out has committed.
Argument: segment_ids (list[int]). The change log itself is the state; this only says "go
look" (campaigns also sweep it every minute).
"""

from django.dispatch import Signal

memberships_changed = Signal()
