"""customers.sql: hot-path statements prepared once per database session."""

import pytest
from django.db import connection

from customers.sql import fetch_all, fetch_one

SQL = "SELECT CAST(%s AS integer) + CAST(%s AS integer)"


@pytest.mark.django_db
def test_a_statement_answers_with_its_parameters():
    assert fetch_one("test_add", SQL, [2, 3]) == (5,)
    assert fetch_all("test_add", SQL, [4, 5]) == [(9,)]


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_statement_is_prepared_once_per_session():
    fetch_one("test_add_once", SQL, [1, 1])
    fetch_one("test_add_once", SQL, [1, 2])

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name = %s",
                       ["test_add_once"])
        assert cursor.fetchone() == (1,)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # closing the connection inside a test's atomic block
def test_a_new_connection_prepares_it_again():
    fetch_one("test_add_again", SQL, [1, 1])
    connection.close()

    assert fetch_one("test_add_again", SQL, [3, 4]) == (7,)


@pytest.mark.postgres
@pytest.mark.django_db
def test_prepared_statements_can_be_turned_off(settings):
    settings.DB_PREPARED_STATEMENTS = False

    assert fetch_one("test_add_off", SQL, [1, 2]) == (3,)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name = %s",
                       ["test_add_off"])
        assert cursor.fetchone() == (0,)
