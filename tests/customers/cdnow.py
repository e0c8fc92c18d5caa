"""The CDNOW sample of Fader, Hardie and Lee (2005): 2,357 customers who first bought in the
first quarter of 1997, and their 6,919 purchases to June 1998. The file ships inside the
`lifetimes` package (a test dependency); it is read from there, never imported."""

import datetime as dt
import importlib.util
from decimal import Decimal
from pathlib import Path

from customers.models import Customer, Order, OrderStatus

# Published maximum-likelihood estimates, time in weeks, calibration to 1997-09-30.
PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
CALIBRATION_END = dt.datetime(1997, 10, 1, tzinfo=dt.UTC)  # the period covers 30 Sept
HOLDOUT_END = dt.datetime(1998, 7, 1, tzinfo=dt.UTC)  # ... and 30 June 1998


def sample_path() -> Path:
    spec = importlib.util.find_spec("lifetimes")
    return Path(spec.submodule_search_locations[0]) / "datasets" / "CDNOW_sample.txt"


def transactions() -> list[tuple[str, dt.date, Decimal]]:
    """(customer id, date, amount) per line of the sample."""
    rows = []
    for line in sample_path().read_text().splitlines():
        _master, customer, day, _quantity, amount = line.split()
        rows.append((customer, dt.date(int(day[:4]), int(day[4:6]), int(day[6:])),
                     Decimal(amount)))
    return rows


def load(storefront) -> int:
    """The sample as customers and paid orders (noon UTC on each day); returns the orders."""
    rows = transactions()
    customers = {cid: Customer(external_id=f"cdnow-{cid}") for cid in {r[0] for r in rows}}
    Customer.objects.bulk_create(customers.values())
    ids = dict(Customer.objects.filter(external_id__startswith="cdnow-")
               .values_list("external_id", "pk"))
    orders = [Order(external_id=f"cdnow-{n}", customer_id=ids[f"cdnow-{cid}"],
                    storefront=storefront, amount=amount, currency="USD",
                    status=OrderStatus.PAID,
                    placed_at=dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC))
              for n, (cid, day, amount) in enumerate(rows)]
    Order.objects.bulk_create(orders, batch_size=2000)
    return len(orders)
