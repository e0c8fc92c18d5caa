"""Whatever a careless storefront or a hostile client sends, the storefront API answers with a
2xx or a 4xx, never a server error, and the operator's pages still render what it stored.

Bodies are drawn around the API's own fields: plausible values often enough to reach the
database (any text for ids, times with any offset ISO 8601 allows and years from 1 to 9999,
amounts at and beyond their bounds), and junk of every JSON type. (Fuzzing with schemathesis
found each kind of case here once: offsets beyond PostgreSQL's 15:59, NUL in an address, a
line break in an external id that broke the customer list.)"""

import pytest
from django.contrib.auth import get_user_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.roles import Role, role_group
from customers.schemas import CustomerIn, EventIn, OrderIn

pytestmark = pytest.mark.django_db

TEXT = st.sampled_from(["", " ", "\n", "line\nbreak", "tab\tin", "\x00", "a/b", "%00", "é漢"]) \
    | st.text(max_size=12)


@st.composite
def iso_times(draw) -> str:
    """Past times (later ones are refused as in the future) with any offset ISO 8601 allows:
    the edges (year 1, offsets past PostgreSQL's 15:59) as often as the ordinary."""
    year = draw(st.sampled_from([1, 2, 999, 1970, 2024]) | st.integers(1, 2025))
    month, day = draw(st.integers(1, 12)), draw(st.integers(1, 28))
    hour, minute = draw(st.integers(0, 23)), draw(st.integers(0, 59))
    zone = draw(st.sampled_from(["", "Z", "+08:00", "+15:59", "+16:00", "-20:30", "+23:59"])
                | st.builds("{}{:02d}:{:02d}".format, st.sampled_from("+-"),
                            st.integers(0, 23), st.integers(0, 59)))
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:00{zone}"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6)
IDS = st.sampled_from(
    ["line\nbreak", "nul\x00", "a/b", "é漢", " padded ", "x" * 128, "x" * 129]) | TEXT
PLAUSIBLE = {
    "external_id": IDS, "customer": IDS,
    "amount": st.sampled_from(["10.00", "0", "-1", "1e30", "99999999999999.99", "0.001", 12.5]),
    "refunded_amount": st.sampled_from(["0", "5.00", "20.00", "-0.01"]),
    "status": st.sampled_from(["paid", "refunded", "cancelled", "pending", "PAID", ""]),
    "name": st.sampled_from(["visit", "cart_add", "a b", ""]),
    "birthday": st.sampled_from(["2000-02-29", "2001-02-29", "0001-01-01", "9999-12-31"]),
    "email": st.sampled_from(["a@shop.test", "A@Shop.Test", "not-an-email"]),
    "time_zone": st.sampled_from(["Asia/Shanghai", "UTC", "Mars/Base", "../etc"]),
}
# Each body is a valid one with up to two fields replaced: most reach the database.
VALID = {
    CustomerIn: {"name": "Ann"},
    OrderIn: {"external_id": "o-1", "customer": "c-1", "amount": "10.00",
              "placed_at": "2024-05-01T10:00:00Z"},
    EventIn: {"customer": "c-1", "name": "visit"},
}


def _value(field: str) -> st.SearchStrategy:
    """Mostly a plausible value of the field, sometimes junk of any JSON type."""
    plausible = iso_times() if field.endswith("_at") else PLAUSIBLE.get(field, TEXT)
    return st.sampled_from([plausible, plausible, plausible, JSON]).flatmap(lambda it: it)


def bodies(model) -> st.SearchStrategy[dict]:
    fields = sorted([*model.model_fields, "unknown_field"])
    changes = st.sets(st.sampled_from(fields), max_size=2).flatmap(
        lambda names: st.fixed_dictionaries({name: _value(name) for name in sorted(names)}))
    return changes.map(lambda changed: {**VALID[model], **changed})


@pytest.fixture
def operator(client):
    user = get_user_model().objects.create_user("hostile-test-operator")
    user.groups.add(role_group(Role.VIEWER))
    client.force_login(user)
    return client


HOSTILE = settings(max_examples=100, deadline=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture])


def _answered(response) -> None:
    assert response.status_code < 500, response.content[:500]


@HOSTILE
@given(external_id=IDS.filter(str.strip), body=bodies(CustomerIn))
def test_customer_upserts_never_fail_and_the_pages_still_render(api, operator, external_id,
                                                              body):
    _answered(api.put(f"/api/v1/customers/{external_id}/", body, format="json"))
    _answered(api.get(f"/api/v1/customers/{external_id}/"))
    assert operator.get("/customers/").status_code == 200


@HOSTILE
@given(items=st.lists(bodies(OrderIn), min_size=1, max_size=3))
def test_orders_never_fail(api, items):
    _answered(api.post("/api/v1/orders/", items[0], format="json"))
    _answered(api.post("/api/v1/orders/batch/", {"items": items}, format="json"))


@HOSTILE
@given(items=st.lists(bodies(EventIn), min_size=1, max_size=3))
def test_events_never_fail(api, operator, items):
    _answered(api.post("/api/v1/events/", items[0], format="json"))
    _answered(api.post("/api/v1/events/batch/", {"items": items}, format="json"))
    assert operator.get("/customers/").status_code == 200
