"""The path for databases without COPY (SQLite, the embedded default): the storefront API's
own ingest services, in batches, so both paths share one set of write rules."""

from pydantic import BaseModel

from customers.models import Storefront
from customers.services.ingest import customers_upsert, events_record, orders_upsert

from .counts import Counts

# The ingest services' documented batch size for the CSV import.
SERVICE_BATCH = 5000


class BatchedLoader:
    """load() writes one chunk, the caller holding the transaction (transaction.atomic)."""

    def __init__(self, *, kind: str, storefront: Storefront):
        self.kind, self.storefront = kind, storefront

    def prepare(self, rows: list[tuple[int, BaseModel]]) -> list[BaseModel]:
        return [model for _line, model in rows]

    def load(self, models: list[BaseModel]) -> Counts:
        created = updated = 0
        for start in range(0, len(models), SERVICE_BATCH):
            batch = models[start:start + SERVICE_BATCH]
            if self.kind == "events":
                result = events_record(storefront=self.storefront, items=batch)
                created += result["recorded"]
                continue
            upsert = customers_upsert if self.kind == "customers" else orders_upsert
            result = upsert(storefront=self.storefront, items=batch)
            created += result["created"]
            updated += result["updated"]
        return Counts(created, updated, len(models) - created - updated)
