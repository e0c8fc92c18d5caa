"""What the campaigns app announces.

batch_executed is sent inside the runner's transaction, after a batch's effects are written
and before they commit (argument: journey_ids). batch_committed is sent after the commit,
before the runner sends the messages it claimed (argument: delivery_ids). Observability
hooks and the crash tests (a worker killed mid-batch) listen to them.
"""

from django.dispatch import Signal

batch_executed = Signal()
batch_committed = Signal()
