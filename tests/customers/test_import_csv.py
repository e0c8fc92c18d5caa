"""`manage.py import_csv`: COPY + set-based upsert on PostgreSQL, the ingest services on SQLite.
The same tests run on both; the counting of unchanged rows, the whole import being one
transaction and large loads are PostgreSQL's (marked postgres)."""

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from customers.models import (
    Customer,
    CustomerMetrics,
    Event,
    MetricsSettings,
    Order,
    Storefront,
)
from customers.services.csv_import import KINDS, csv_import
from tests.customers.factories import CustomerFactory, OrderFactory, StorefrontFactory
from tests.customers.schema import table_schema

FIXTURES = Path(__file__).parent / "fixtures"
UTC = dt.UTC


@pytest.fixture
def write_csv(tmp_path):
    def write(text: str, name: str = "data.csv", encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.write_bytes(text.encode(encoding))
        return path

    return write


@pytest.fixture
def run(db, tmp_path):
    """import_csv as an operator runs it; returns its output."""

    def run_command(kind: str, path: Path, *args: str) -> str:
        out = io.StringIO()
        call_command("import_csv", kind, str(path), *args,
                     "--rejects", str(tmp_path / "rejects.csv"), stdout=out)
        return out.getvalue()

    return run_command


def counts(report) -> tuple[int, int, int, int]:
    return report.created, report.updated, report.unchanged, report.rejected


def snapshot() -> list[tuple]:
    return [
        *Customer.objects.order_by("external_id").values_list(
            "external_id", "email", "name", "tags", "attributes", "email_consent",
            "email_consent_at", "activity__last_seen_at"),
        *Order.objects.order_by("external_id").values_list(
            "external_id", "customer__external_id", "amount", "refunded_amount", "status",
            "items"),
        *Event.objects.order_by("event_id").values_list("event_id", "name", "occurred_at"),
    ]


# --- each kind ------------------------------------------------------------------------------

def test_customers_import_parses_every_kind_of_cell(db):
    report = csv_import(kind="customers", path=FIXTURES / "customers.csv")

    assert counts(report) == (3, 0, 0, 0)
    ada = Customer.objects.get(external_id="c1")
    assert ada.email == "ada@example.com"  # normalised by the API's schema
    assert ada.tags == ["vip", "newsletter"]
    assert ada.attributes == {"tier": "gold"}
    assert (ada.email_consent, ada.sms_consent) == (True, False)
    assert ada.email_consent_at is not None
    assert ada.signup_at == dt.datetime(2024, 1, 15, 1, 30, tzinfo=UTC)
    bob = Customer.objects.get(external_id="c2")
    assert bob.name == "Smith, Bob"
    assert (bob.email_consent, bob.sms_consent) == (False, True)
    assert bob.birthday is None
    assert Customer.objects.get(external_id="c3").birthday == dt.date(2000, 2, 29)


def test_language_cells_are_stored_in_lower_case_and_bad_ones_rejected(db, write_csv):
    path = write_csv("external_id,language\nc1,zh-Hans-CN\nc2,en\nc3,not a language\n")

    report = csv_import(kind="customers", path=path)

    assert counts(report) == (2, 0, 0, 1)
    assert dict(Customer.objects.values_list("external_id", "language")) == {
        "c1": "zh-hans-cn", "c2": "en"}


def test_orders_import_creates_orders_and_their_unknown_customers(db):
    report = csv_import(kind="orders", path=FIXTURES / "orders.csv")

    assert counts(report) == (3, 0, 0, 0)
    storefront = Storefront.objects.get(name="csv-import")
    o1, o2, o3 = Order.objects.order_by("external_id")
    assert (o1.customer.external_id, o1.amount, o1.currency, o1.coupon_code) == (
        "c1", Decimal("120.50"), "CNY", "SPRING20")
    assert o1.items == [{"sku": "TEE-1", "name": "", "quantity": 2, "price": "60.25",
                         "category": ""}]
    assert (o2.refunded_amount, o2.currency, o2.items) == (Decimal("20.00"), "USD", [])
    assert (o3.customer.external_id, o3.status) == ("c9", "refunded")
    assert {o.storefront_id for o in (o1, o2, o3)} == {storefront.pk}
    assert set(Customer.objects.values_list("external_id", flat=True)) == {"c1", "c9"}


def test_orders_of_known_and_unknown_customers_in_one_chunk_are_each_written_once(
        db, write_csv):
    OrderFactory(external_id="o1", customer=CustomerFactory(external_id="c1"),
                 amount=Decimal("5.00"), refunded_amount=Decimal("0"))
    path = write_csv("external_id,customer,amount,placed_at\n"
                     "o1,c1,7.00,2024-01-01T00:00:00Z\n"
                     "o2,c2,8.00,2024-01-01T00:00:00Z\n"
                     "o3,c1,9.00,2024-01-01T00:00:00Z\n")

    report = csv_import(kind="orders", path=path)

    assert counts(report) == (2, 1, 0, 0)
    assert sorted(Order.objects.values_list("external_id", "customer__external_id", "amount")) \
        == [("o1", "c1", Decimal("7.00")), ("o2", "c2", Decimal("8.00")),
            ("o3", "c1", Decimal("9.00"))]


def test_events_import_records_events_and_moves_last_seen(db):
    report = csv_import(kind="events", path=FIXTURES / "events.csv")

    assert counts(report) == (3, 0, 0, 0)
    assert Event.objects.count() == 3
    c1 = Customer.objects.get(external_id="c1")
    assert c1.last_seen_at == dt.datetime(2024, 6, 1, 9, 5, tzinfo=UTC)
    assert Event.objects.get(event_id="e-2").properties == {"sku": "TEE-1"}


def test_only_activity_events_move_last_seen(db, write_csv):
    MetricsSettings.objects.update_or_create(pk=1, defaults={"activity_events": ["visit"]})
    path = write_csv("customer,name,occurred_at\nc1,visit,2024-01-01T00:00:00Z\n"
                     "c1,login,2024-02-01T00:00:00Z\n")

    csv_import(kind="events", path=path)

    assert Customer.objects.get(external_id="c1").last_seen_at == dt.datetime(
        2024, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("kind", ["customers", "orders", "events"])
def test_importing_the_same_file_again_changes_nothing(db, kind):
    path = FIXTURES / f"{kind}.csv"
    csv_import(kind=kind, path=path)
    before = snapshot()

    report = csv_import(kind=kind, path=path)

    assert report.created == 0
    assert report.updated + report.unchanged == 3
    assert snapshot() == before


@pytest.mark.postgres
def test_reimport_counts_rows_as_unchanged_on_postgres(db):
    csv_import(kind="orders", path=FIXTURES / "orders.csv")

    report = csv_import(kind="orders", path=FIXTURES / "orders.csv")

    assert counts(report) == (0, 0, 3, 0)


def test_changed_status_updates_the_stored_order(db, write_csv):
    csv_import(kind="orders", path=FIXTURES / "orders.csv")
    path = write_csv("external_id,customer,amount,status,placed_at\n"
                     "o1,c1,120.50,refunded,2024-05-01T10:00:00Z\n")

    report = csv_import(kind="orders", path=path)

    assert counts(report) == (0, 1, 0, 0)
    o1 = Order.objects.get(external_id="o1")
    assert o1.status == "refunded"
    assert (o1.coupon_code, o1.currency) == ("SPRING20", "CNY")  # empty cells keep them


# --- rejects and unusable files ---------------------------------------------------------------

def test_rejected_rows_are_reported_with_line_and_reason_while_good_rows_import(
        run, write_csv, tmp_path):
    path = write_csv(
        "external_id,customer,amount,placed_at\n"
        "o1,c1,10.00,2024-01-01T00:00:00Z\n"
        "o2,c1,-5,2024-01-01T00:00:00Z\n"
        "o3,c1,12.00,not a date\n"
        "o4,c2,7.50,2024-01-02T00:00:00Z\n"
    )

    output = run("orders", path)

    assert "4 rows" in output
    assert "2 created, 0 updated, 0 unchanged or duplicate, 2 rejected" in output
    assert "line 3 amount: Input should be greater than or equal to 0" in output
    assert "line 4 placed_at: Input should be a valid datetime" in output
    assert set(Order.objects.values_list("external_id", flat=True)) == {"o1", "o4"}
    with (tmp_path / "rejects.csv").open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["line", "field", "reason"]
    assert [row[:2] for row in rows[1:]] == [["3", "amount"], ["4", "placed_at"]]


def test_invalid_json_cell_is_rejected_naming_its_column(db, write_csv):
    path = write_csv('external_id,attributes\nc1,"{not json"\nc2,"{""a"": 1}"\n')

    report = csv_import(kind="customers", path=path)

    assert counts(report) == (1, 0, 0, 1)
    [reject] = report.rejects
    assert (reject.line, reject.field) == (2, "attributes")
    assert reject.reason.startswith("is not valid JSON")


def test_json_cell_holding_nul_is_rejected_not_a_crash(db, write_csv):
    # The database cannot store NUL in jsonb; the row must be refused by line, like the API.
    path = write_csv('external_id,attributes\nc1,"{""a"": ""\\u0000""}"\nc2,"{""a"": 1}"\n')

    report = csv_import(kind="customers", path=path)

    assert counts(report) == (1, 0, 0, 1)
    [reject] = report.rejects
    assert (reject.line, reject.field) == (2, "attributes")
    assert "NUL" in reject.reason


def test_row_with_the_wrong_number_of_cells_is_rejected(db, write_csv):
    path = write_csv("external_id,name\nc1,Ada,extra\nc2,Bob\n")

    report = csv_import(kind="customers", path=path)

    assert counts(report) == (1, 0, 0, 1)
    assert report.rejects[0].reason == "has 3 cells but the header has 2 columns"


def test_rows_with_the_wrong_number_of_cells_in_several_chunks_are_each_rejected(db, write_csv):
    path = write_csv("external_id,name\nc1,Ada,extra\nc2,Bob\nc3,Cy\nc4,Di,x\n")

    report = csv_import(kind="customers", path=path, batch_size=2)

    assert counts(report) == (2, 0, 0, 2)
    assert [(r.line, r.reason) for r in report.rejects] == [
        (2, "has 3 cells but the header has 2 columns"),
        (5, "has 3 cells but the header has 2 columns")]


def test_unknown_column_stops_before_importing(run, write_csv):
    path = write_csv("external_id,e_mail\nc1,a@example.com\n")

    with pytest.raises(CommandError, match="unknown column 'e_mail'"):
        run("customers", path)
    assert not Customer.objects.exists()
    assert not Storefront.objects.exists()


def test_missing_required_column_stops_before_importing(run, write_csv):
    path = write_csv("external_id,customer,placed_at\no1,c1,2024-01-01T00:00:00Z\n")

    with pytest.raises(CommandError, match="required column 'amount' is missing"):
        run("orders", path)
    assert not Order.objects.exists()


def test_missing_file_is_an_error(run, tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        run("customers", tmp_path / "nope.csv")


def test_file_that_is_not_utf8_is_an_error(run, write_csv):
    path = write_csv("external_id,name\nc1,Jos\u00e9\n", encoding="latin-1")

    with pytest.raises(CommandError, match="not UTF-8 text"):
        run("customers", path)


@pytest.mark.postgres
def test_a_role_that_may_not_create_tables_is_told_so_and_nothing_is_written(
    transactional_db, tmp_path, write_csv, monkeypatch
):
    from django.db import connection

    from customers.services.csv_import import prepare

    role = f"csv_no_create_{connection.settings_dict['NAME']}"[:63]
    with connection.cursor() as cursor:
        cursor.execute(f"DROP ROLE IF EXISTS {role}")  # left by an interrupted run
        cursor.execute(f"CREATE ROLE {role} NOLOGIN")
        cursor.execute(f"REVOKE CREATE ON SCHEMA public FROM {role}")
    connect = prepare.connect

    def connect_as_role():
        conn = connect()
        conn.execute(f"SET ROLE {role}")
        return conn

    monkeypatch.setattr(prepare, "connect", connect_as_role)
    try:
        with pytest.raises(CommandError, match="may not create tables in schema public"):
            call_command("import_csv", "customers",
                         str(write_csv("external_id,name\nc1,Ada\n")), stdout=io.StringIO())
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP OWNED BY {role}")
            cursor.execute(f"DROP ROLE {role}")
    assert not Customer.objects.exists()


# --- CSV details ---------------------------------------------------------------------------

def test_byte_order_mark_is_ignored(db, write_csv):
    path = write_csv("\ufeffexternal_id,name\nc1,Ada\n")

    report = csv_import(kind="customers", path=path)

    assert counts(report) == (1, 0, 0, 0)
    assert Customer.objects.get(external_id="c1").name == "Ada"


def test_windows_line_endings_are_read(db, write_csv):
    path = write_csv("external_id,name\r\nc1,Ada\r\nc2,Bob\r\n")

    report = csv_import(kind="customers", path=path)

    assert counts(report) == (2, 0, 0, 0)
    assert Customer.objects.get(external_id="c2").name == "Bob"


def test_quoted_cells_keep_commas_quotes_and_newlines(db, write_csv):
    path = write_csv('external_id,name,city\nc1,"Lovelace, Ada ""The Countess""","Lon\ndon"\n')

    csv_import(kind="customers", path=path)

    ada = Customer.objects.get(external_id="c1")
    assert (ada.name, ada.city) == ('Lovelace, Ada "The Countess"', "Lon\ndon")


def test_line_numbers_count_the_lines_of_multiline_cells(db, write_csv):
    path = write_csv('external_id,name,email\nc1,"two\nlines",a@example.com\nc2,Bob,bad\n')

    report = csv_import(kind="customers", path=path)

    assert [(r.line, r.field) for r in report.rejects] == [(4, "email")]


def test_blank_lines_are_skipped(db, write_csv):
    path = write_csv("external_id,name\n\nc1,Ada\n\n")

    report = csv_import(kind="customers", path=path)

    assert (report.rows, report.created) == (1, 1)


def test_naive_times_are_read_in_the_storefront_time_zone(db, write_csv):
    StorefrontFactory(name="pos", time_zone="Asia/Shanghai")
    path = write_csv("external_id,customer,amount,placed_at\no1,c1,1.00,2024-05-01 08:00:00\n")

    csv_import(kind="orders", path=path, storefront_name="pos")

    order = Order.objects.get(external_id="o1")
    assert order.placed_at == dt.datetime(2024, 5, 1, 0, 0, tzinfo=UTC)
    assert order.storefront.name == "pos"


# --- update semantics ----------------------------------------------------------------------

def test_empty_cells_keep_stored_customer_values(db, write_csv):
    csv_import(kind="customers", path=FIXTURES / "customers.csv")
    path = write_csv("external_id,email,name,city,tags\nc1,,Ada King,,\n")

    report = csv_import(kind="customers", path=path)

    assert counts(report) == (0, 1, 0, 0)
    ada = Customer.objects.get(external_id="c1")
    assert ada.name == "Ada King"
    assert (ada.email, ada.city, ada.tags) == ("ada@example.com", "Shanghai",
                                               ["vip", "newsletter"])
    assert ada.attributes == {"tier": "gold"}  # a column the file does not have


def test_consent_change_is_stamped_with_the_given_time(db, write_csv):
    CustomerFactory(external_id="c1", email_consent=True,
                    email_consent_at=dt.datetime(2023, 1, 1, tzinfo=UTC))
    path = write_csv("external_id,email_consent,email_consent_at\n"
                     "c1,no,2024-02-02T00:00:00Z\n")

    csv_import(kind="customers", path=path)

    customer = Customer.objects.get(external_id="c1")
    assert customer.email_consent is False
    assert customer.email_consent_at == dt.datetime(2024, 2, 2, tzinfo=UTC)


def test_repeated_customer_in_a_file_takes_the_later_cells(db, write_csv):
    path = write_csv("external_id,name,city\nc1,Ada,London\nc1,Ada King,\n")

    report = csv_import(kind="customers", path=path)

    assert counts(report) == (1, 0, 1, 0)
    ada = Customer.objects.get(external_id="c1")
    assert (ada.name, ada.city) == ("Ada King", "London")


def test_events_with_the_same_event_id_are_recorded_once_as_first_sent(db, write_csv):
    path = write_csv("customer,name,occurred_at,event_id\n"
                     "c1,visit,2024-01-01T00:00:00Z,e-1\n"
                     "c1,search,2024-01-01T00:00:00Z,e-1\n"
                     "c1,login,2024-01-02T00:00:00Z,e-2\n")

    report = csv_import(kind="events", path=path)

    assert counts(report) == (2, 0, 1, 0)
    assert sorted(Event.objects.values_list("event_id", "name")) == [
        ("e-1", "visit"), ("e-2", "login")]


def test_events_without_event_id_are_not_recorded_twice_by_a_reimport(db, write_csv):
    path = write_csv("customer,name,occurred_at\nc1,visit,2024-01-01T00:00:00Z\n"
                     "c1,visit,2024-01-03T00:00:00Z\n")
    csv_import(kind="events", path=path)

    report = csv_import(kind="events", path=path)

    assert counts(report) == (0, 0, 2, 0)
    assert Event.objects.count() == 2


def test_chunk_the_database_refuses_is_rejected_whole(db, write_csv):
    OrderFactory(external_id="o1", amount=Decimal("100.00"), refunded_amount=Decimal("80.00"))
    # Lowering the amount below the stored refund breaks a constraint only the database sees.
    path = write_csv("external_id,customer,amount,placed_at\n"
                     "o1,c1,50.00,2024-01-01T00:00:00Z\n"
                     "o2,c1,10.00,2024-01-01T00:00:00Z\n")

    report = csv_import(kind="orders", path=path)

    assert counts(report) == (0, 0, 0, 2)
    assert report.rejects[0].reason.startswith("the database refused this chunk")
    assert not Order.objects.filter(external_id="o2").exists()
    assert Order.objects.get(external_id="o1").amount == Decimal("100.00")


# --- size ----------------------------------------------------------------------------------

def test_large_file_imports_in_chunks(db, write_csv):
    lines = ["external_id,customer,amount,status,placed_at"]
    for n in range(20_000):
        amount = "-1" if n % 1000 == 999 else f"{n % 500}.{n % 100:02d}"  # 20 bad rows
        lines.append(f"o{n},c{n % 2999},{amount},paid,2024-01-01T00:00:00Z")
    lines.append("o5,c5,9.99,refunded,2024-01-01T00:00:00Z")  # repeats o5 in a later chunk
    path = write_csv("\n".join(lines) + "\n")
    progress: list[int] = []

    report = csv_import(kind="orders", path=path, batch_size=3000, progress=progress.append)

    assert (report.rows, report.created, report.updated, report.rejected) == (
        20_001, 19_980, 1, 20)
    assert Order.objects.count() == 19_980
    assert Customer.objects.count() == 2999
    assert Order.objects.get(external_id="o5").status == "refunded"
    assert len(progress) == 7  # one call per chunk
    assert progress[-1] == path.stat().st_size


def test_command_reports_counts_and_points_to_recompute(run):
    output = run("customers", FIXTURES / "customers.csv")

    assert "customers: 3 rows" in output
    assert "3 created, 0 updated, 0 unchanged or duplicate, 0 rejected" in output
    assert "recompute_metrics" in output


@pytest.mark.postgres  # on SQLite a re-sent customer counts as updated (docs/csv.md)
def test_a_file_that_writes_nothing_does_not_call_the_metrics_stale(run):
    run("customers", FIXTURES / "customers.csv")

    output = run("customers", FIXTURES / "customers.csv", "--recompute")

    assert "0 created, 0 updated, 3 unchanged or duplicate" in output
    assert "Nothing was written: the metrics are as they were." in output
    assert "recompute_metrics" not in output
    assert not CustomerMetrics.objects.exists()


def test_recompute_option_computes_the_imported_customers_metrics(run):
    run("orders", FIXTURES / "orders.csv", "--recompute")

    metrics = CustomerMetrics.objects.get(customer__external_id="c1")
    assert metrics.order_count == 2
    assert metrics.ltv == Decimal("180.50")  # 120.50 + 80.00 - 20.00 refunded


@pytest.mark.parametrize("kind", ["customers", "orders", "events"])
def test_docs_list_every_column(kind):
    """docs/csv.md is written by hand: this keeps it in step with the API's schemas."""
    docs = (Path(__file__).parents[2] / "docs" / "csv.md").read_text()
    section = docs.split(f"### {kind}\n")[1].split("\n#")[0]
    for column in KINDS[kind].columns:
        assert f"`{column}`" in section, f"docs/csv.md does not describe {kind}.{column}"


# --- PostgreSQL: COPY of the file as it is, large loads ---------------------------------------

def test_quote_inside_a_cell_is_kept_as_python_reads_it(db, write_csv):
    # PostgreSQL's CSV reader would start a quoted part at this quote; Python's keeps it.
    path = write_csv('external_id,name,city\nc1,5" screen,Oslo\nc2,Bob,"Lon\ndon"\n')

    report = csv_import(kind="customers", path=path)

    assert counts(report) == (2, 0, 0, 0)
    assert Customer.objects.get(external_id="c1").name == '5" screen'
    assert Customer.objects.get(external_id="c2").city == "Lon\ndon"


@pytest.mark.postgres  # elsewhere each chunk is committed on its own
def test_a_file_that_turns_out_not_utf8_writes_nothing(run, write_csv):
    good = "".join(f"c{n},Ada Lovelace\n" for n in range(3000))  # past the first reads
    path = write_csv("external_id,name\n" + good)
    path.write_bytes(path.read_bytes() + "c9,Jos\u00e9\n".encode("latin-1"))

    with pytest.raises(CommandError, match="not UTF-8 text near line 3002"):
        run("customers", path, "--batch-size", "500")
    assert not Customer.objects.exists()


@pytest.fixture
def set_asides(monkeypatch) -> list[tuple[str, bool]]:
    """The writer's calls to set_aside, in order: (table, whether its unique constraints
    went too)."""
    from customers.services.csv_import import postgres

    calls = []
    original = postgres.set_aside

    def recording(cursor, table, *, unique=False):
        calls.append((table, unique))
        return original(cursor, table, unique=unique)

    monkeypatch.setattr(postgres, "set_aside", recording)
    return calls


@pytest.mark.parametrize("kind", ["customers", "events"])
def test_a_nul_byte_in_a_cell_rejects_its_row_naming_the_column(db, write_csv, kind):
    """No PostgreSQL text can hold NUL; the import went down with a database error."""
    text = {"customers": "external_id,name\nc1,Ann\x00Lee\nc2,Bob\n",
            "events": "customer,name,event_id\nc1,visit,e\x001\nc2,visit,e2\n"}[kind]

    report = csv_import(kind=kind, path=write_csv(text))

    assert counts(report) == (1, 0, 0, 1)
    column = {"customers": "name", "events": "event_id"}[kind]
    assert [(r.line, r.field, r.reason) for r in report.rejects] == [
        (2, column, "must not contain the NUL character (\\u0000)")]


@pytest.mark.postgres
def test_large_load_rebuilds_the_indexes_and_foreign_keys_it_set_aside(
    db, monkeypatch, set_asides
):
    from customers.services.csv_import import postgres

    before = table_schema("customers_order")
    monkeypatch.setattr(postgres, "BULK_MIN_ROWS", 0)

    report = csv_import(kind="orders", path=FIXTURES / "orders.csv")

    dropped = [table for table, _unique in set_asides]
    assert dropped == ["customers_order"]
    assert counts(report) == (3, 0, 0, 0)
    assert Order.objects.get(external_id="o3").customer.external_id == "c9"
    assert table_schema("customers_order") == before


@pytest.mark.postgres
@pytest.mark.parametrize("stored", [False, True])
def test_a_first_load_of_customers_sets_their_unique_index_aside_and_merges_across_chunks(
    db, write_csv, monkeypatch, set_asides, stored
):
    """Into an empty table the external ids' unique constraint is built at the end too, and
    a customer named again in a later chunk is found among those the import created (a
    hash join with the table); into a table that holds customers it stays, as do its
    probes."""
    from customers.services.csv_import import postgres

    if stored:
        CustomerFactory(external_id="old", name="Old")
    before = table_schema("customers_customer")
    monkeypatch.setattr(postgres, "BULK_MIN_ROWS", 0)
    lines = ["a,Ann,Paris", "b,Bob,", "a,,Rome", "c,Cy,", "b,Rob,Oslo", "old,Olga,"]
    path = write_csv("external_id,name,city\n" + "\n".join(lines) + "\n")

    report = csv_import(kind="customers", path=path, batch_size=2)

    unique = [unique for _table, unique in set_asides]
    assert unique == [not stored]
    assert counts(report) == ((3, 3, 0, 0) if stored else (4, 2, 0, 0))
    assert dict(Customer.objects.values_list("external_id", "name")) == {
        "a": "Ann", "b": "Rob", "c": "Cy", "old": "Olga"}
    assert dict(Customer.objects.values_list("external_id", "city")) == {
        "a": "Rome", "b": "Oslo", "c": "", "old": ""}
    assert table_schema("customers_customer") == before


@pytest.mark.postgres
def test_no_hand_over_table_outlives_an_import(db):
    from django.db import connection

    csv_import(kind="orders", path=FIXTURES / "orders.csv")

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'csv\\_import\\_%%'")
        assert cursor.fetchone()[0] == 0


@pytest.fixture
def copied(monkeypatch) -> list[bool]:
    """Whether each import's checks copied the customers' ids, in order."""
    from customers.services.csv_import import prepare

    copies: list[bool] = []
    original = prepare.Preparer._snapshot_customers_for_a_large_load
    monkeypatch.setattr(prepare.Preparer, "_snapshot_customers_for_a_large_load",
                        lambda self, staged: original(self, staged) or copies.append(
                            self.knows_customers))
    return copies


@pytest.mark.postgres
def test_large_load_of_orders_takes_known_customers_ids_from_a_copy_made_before_its_lock(
    transactional_db, write_csv, monkeypatch, copied
):
    """The checks look up the customers the database held (committed, so that their own
    connection sees them) in a copy taken before the writer locks the customers; customers
    the import creates itself are found by the writer. Reading the customers themselves from
    the checks' connection would wait for the writer's lock while the writer waits for the
    next chunk."""
    from customers.services.csv_import import postgres, prepare

    for external_id in ("k0", "k1", "k2"):
        CustomerFactory(external_id=external_id)
    monkeypatch.setattr(postgres, "BULK_MIN_ROWS", 0)
    monkeypatch.setattr(prepare, "SNAPSHOT_MIN_ROWS", 0)
    names = ["k0", "new1", "k1", "k2", "new1", "new2", "k0", "k2"]  # new ones in later chunks
    lines = [f"o{n},{name},1.00,2024-01-01T00:00:00Z" for n, name in enumerate(names)]
    path = write_csv("external_id,customer,amount,placed_at\n" + "\n".join(lines) + "\n")

    report = csv_import(kind="orders", path=path, batch_size=2)

    assert copied == [True]
    assert counts(report) == (8, 0, 0, 0)
    assert [order.customer.external_id for order in
            Order.objects.select_related("customer").order_by("placed_at", "id")] == names
    assert Customer.objects.count() == 5


@pytest.mark.postgres
def test_large_load_of_events_takes_known_customers_ids_and_moves_last_seen(
    transactional_db, write_csv, monkeypatch, set_asides
):
    from customers.services.csv_import import postgres, prepare

    for external_id in ("k0", "k1"):
        CustomerFactory(external_id=external_id, last_seen_at=None)
    before = table_schema("customers_customer")
    activity_before = table_schema("customers_customeractivity")
    monkeypatch.setattr(postgres, "BULK_MIN_ROWS", 0)
    monkeypatch.setattr(prepare, "SNAPSHOT_MIN_ROWS", 0)
    names = ["k0", "new1", "k1", "k0", "new1", "new2"]  # a chunk of two rows each
    lines = [f"e{n},{name},visit,2024-01-0{n + 1} 10:00:00" for n, name in enumerate(names)]
    path = write_csv("event_id,customer,name,occurred_at\n" + "\n".join(lines) + "\n")

    report = csv_import(kind="events", path=path, batch_size=2)

    assert counts(report) == (6, 0, 0, 0)
    assert [event.customer.external_id for event in
            Event.objects.select_related("customer").order_by("occurred_at")] == names
    seen = dict(Customer.objects.values_list("external_id", "activity__last_seen_at"))
    assert {name: moment.day for name, moment in seen.items()} == {
        "k0": 4, "new1": 5, "k1": 3, "new2": 6}
    # last_seen_at lives in the activity rows: the customers' rows and indexes are untouched;
    # the activity table, empty before, had its foreign key checked whole at the end
    set_aside = [table for table, _unique in set_asides]
    assert set_aside == ["customers_event", "customers_customeractivity"]
    assert table_schema("customers_customer") == before
    assert table_schema("customers_customeractivity") == activity_before


@pytest.mark.postgres
def test_events_naming_fewer_customers_than_have_activity_leave_its_foreign_key(
    db, write_csv, monkeypatch, set_asides
):
    """The activity table's foreign key is set aside only when the load adds at least as
    many activity rows as the table holds; last seen moves forward, never back."""
    from customers.services.csv_import import postgres

    early, late = (dt.datetime(2024, 1, day, tzinfo=dt.UTC) for day in (1, 20))
    for n in range(4):
        CustomerFactory(external_id=f"k{n}", last_seen_at=late if n == 1 else early)
    monkeypatch.setattr(postgres, "BULK_MIN_ROWS", 0)
    lines = ["e0,k0,visit,2024-01-10 10:00:00", "e1,k1,visit,2024-01-10 10:00:00"]
    path = write_csv("event_id,customer,name,occurred_at\n" + "\n".join(lines) + "\n")

    report = csv_import(kind="events", path=path)

    assert counts(report) == (2, 0, 0, 0)
    assert "customers_customeractivity" not in [table for table, _unique in set_asides]
    seen = dict(Customer.objects.values_list("external_id", "activity__last_seen_at"))
    assert {name: moment.day for name, moment in seen.items()} == {
        "k0": 10, "k1": 20, "k2": 1, "k3": 1}


@pytest.mark.postgres
def test_events_naming_more_customers_than_have_activity_keep_the_stored_later_moments(
    transactional_db, write_csv, monkeypatch, set_asides
):
    """A load that adds more activity rows than the table holds sets its foreign key aside;
    the rows the table held still move forward only."""
    from customers.services.csv_import import postgres

    early, late = (dt.datetime(2024, 1, day, tzinfo=dt.UTC) for day in (1, 20))
    CustomerFactory(external_id="k0", last_seen_at=late)
    CustomerFactory(external_id="k1", last_seen_at=early)
    monkeypatch.setattr(postgres, "BULK_MIN_ROWS", 0)
    lines = [f"e{n},{name},visit,2024-01-10 10:00:00" for n, name in enumerate(
        ["k0", "k1", "new2", "new3", "new4"])]
    path = write_csv("event_id,customer,name,occurred_at\n" + "\n".join(lines) + "\n")

    report = csv_import(kind="events", path=path)

    assert counts(report) == (5, 0, 0, 0)
    assert "customers_customeractivity" in [table for table, _unique in set_asides]
    seen = dict(Customer.objects.values_list("external_id", "activity__last_seen_at"))
    assert {name: moment.day for name, moment in seen.items()} == {
        "k0": 20, "k1": 10, "new2": 10, "new3": 10, "new4": 10}


@pytest.mark.postgres
def test_a_large_load_of_events_is_told_by_the_events_of_its_own_storefront(
    transactional_db, write_csv, monkeypatch, copied
):
    """Event ids are the storefront's own: the same ids sent by another storefront are new
    events, and the checks copy the customers' ids for them (looking the ids up with the
    storefront, by the unique index, not among every storefront's events)."""
    from customers.services.csv_import import postgres, prepare

    monkeypatch.setattr(postgres, "BULK_MIN_ROWS", 0)
    monkeypatch.setattr(prepare, "SNAPSHOT_MIN_ROWS", 1)
    lines = [f"e{n},c{n},visit,2024-01-01 10:00:00" for n in range(4)]
    path = write_csv("event_id,customer,name,occurred_at\n" + "\n".join(lines) + "\n")

    first = csv_import(kind="events", path=path, storefront_name="shop-a")
    again = csv_import(kind="events", path=path, storefront_name="shop-a")
    elsewhere = csv_import(kind="events", path=path, storefront_name="shop-b")

    assert [counts(r) for r in (first, again, elsewhere)] == [
        (4, 0, 0, 0), (0, 0, 4, 0), (4, 0, 0, 0)]
    assert copied == [True, False, True]
