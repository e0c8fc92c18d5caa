"""rawcsv.copyable: a block it hands to COPY as it is must be read by PostgreSQL exactly as
Python's csv module (the import's reference) reads it, one record per line. Checked against
the real server on random blocks built from the characters that matter to either reader."""

import csv
import io

import psycopg
import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from customers.services.csv_import import rawcsv

PIECES = [b"a", b"b c", b",", b'"', b'""', b"\n", b"\r\n", b"\r", b" ", b"\\.", b"\\", b"\0",
          b"\xc3\xa9"]
blocks = st.lists(st.sampled_from(PIECES), min_size=1, max_size=24).map(b"".join)
# Blocks of well-formed CSV (what storefronts export), so that the accepting side is tried
# as often as the refusing one.
cells = st.one_of(
    st.sampled_from([b"", b"a", b"b c", b"\xc3\xa9"]),
    st.lists(st.sampled_from([b"a", b",", b'""', b"\n", b" "]), max_size=6).map(
        lambda parts: b'"' + b"".join(parts) + b'"'),
)
lines = st.lists(st.lists(cells, min_size=3, max_size=3).map(b",".join), min_size=1,
                 max_size=5)
well_formed = st.tuples(lines, st.sampled_from([b"\n", b"\r\n"]), st.booleans()).map(
    lambda t: t[1].join(t[0]) + (t[1] if t[2] else b""))


def python_records(data: bytes) -> list[list[str]]:
    reader = csv.reader(io.StringIO(data.decode(), newline=""))
    return [cells for cells in reader if cells]  # the import skips blank lines


def postgres_records(data: bytes, width: int) -> list[list[str]] | None:
    """The rows COPY reads (NULL as ''), or None when it refuses the block."""
    columns = [f"c{n}" for n in range(width)]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS raw")
        cursor.execute(f"CREATE TEMPORARY TABLE raw (n serial, "
                       f"{', '.join(f'{c} text' for c in columns)})")
        copy = (f"COPY raw ({', '.join(columns)}) FROM STDIN "
                f"(FORMAT csv, FORCE_NULL ({', '.join(columns)}))")
        try:
            with transaction.atomic(), connection.connection.cursor() as raw_cursor, \
                    raw_cursor.copy(copy) as stream:
                stream.write(data)
        except psycopg.Error:  # refused: the import reads such a block in Python
            return None
        cursor.execute(f"SELECT {', '.join(columns)} FROM raw ORDER BY n")
        return [[cell or "" for cell in row] for row in cursor.fetchall()]


@pytest.mark.postgres
@pytest.mark.django_db
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(blocks, well_formed))
@example(data=b'c1,5" screen,Oslo\n')
@example(data=b'a,"b\nc",d\n')
@example(data=b'"a""b",c,d')
def test_a_copyable_block_reads_in_postgresql_as_in_python(data):
    block = rawcsv.Block(first_line=1, data=data, end=len(data))
    if not rawcsv.copyable(data):
        return
    expected = python_records(data)
    assert len(expected) == block.lines  # one record per line
    got = postgres_records(data, width=len(expected[0]))
    if got is not None and len(got) == block.lines:  # otherwise the import reads it in Python
        assert got == expected


def test_blocks_with_quotes_inside_unquoted_cells_or_around_line_breaks_are_not_copyable():
    assert not rawcsv.copyable(b'c1,5" screen,Oslo\n')
    assert not rawcsv.copyable(b'a,"b\nc",d\n')
    assert not rawcsv.copyable(b'a,"b"c,d\n')
    assert not rawcsv.copyable(b'a,"b\n')
    assert rawcsv.copyable(b'a,"b, ""c""",d\r\ne,,"f"\r\n')


@settings(max_examples=300, deadline=None)
@given(data=blocks, size=st.integers(1, 4))
def test_blocks_cover_the_file_in_whole_lines_with_whole_quoted_cells(tmp_path_factory, data,
                                                                      size):
    path = tmp_path_factory.mktemp("rawcsv") / "file.csv"
    path.write_bytes(b"header\n" + data)
    with path.open("rb") as file:
        offset = rawcsv.offset_after_lines(file, 1)
        got = list(rawcsv.blocks(file, offset, 2, size))

    assert b"".join(block.data for block in got) == data
    line, end = 2, offset
    for n, block in enumerate(got):
        assert (block.first_line, block.end) == (line, end + len(block.data))
        if n < len(got) - 1:  # whole lines, at least `size` of them, quotes paired
            assert block.data.endswith(b"\n")
            assert block.lines >= size
            assert block.data.count(b'"') % 2 == 0
        line, end = line + block.lines, block.end
