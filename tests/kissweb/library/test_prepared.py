"""Prepared statements for the list pages: one round trip, a generic plan, and a fresh start after trouble."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from kissweb.library import selectors
from kissweb.library.prepared import _server_form

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_prepared_statements():
    """Each test starts on a session with nothing prepared (the test database's connection outlives tests)."""
    with connection.cursor() as cur:
        cur.execute("DEALLOCATE ALL")
    connection._kissweb_prepared = None


def prepared_statements() -> dict[str, tuple[int, int]]:
    """name -> (generic plans, custom plans) of this session's prepared statements."""
    with connection.cursor() as cur:
        cur.execute("SELECT name, generic_plans, custom_plans FROM pg_prepared_statements")
        return {name: (generic, custom) for name, generic, custom in cur.fetchall()}


def test_server_form_numbers_each_name_once():
    text, names = _server_form("SELECT %(a)s, %(b)s, %(a)s WHERE x LIKE 'a%%'")
    assert (text, names) == ("SELECT $1, $2, $1 WHERE x LIKE 'a%'", ("a", "b"))


def test_a_list_shape_is_prepared_once_and_runs_on_a_generic_plan(user, make_movie, kissing):
    make_movie(user, title="Alpha")
    before = set(prepared_statements())
    with CaptureQueriesContext(connection) as first:
        page = selectors.movie_page(page=1, page_size=24, scene_type="kissing", min_segments=0)
    with CaptureQueriesContext(connection) as second:
        again = selectors.movie_page(page=1, page_size=24, scene_type="kissing", min_segments=0)
    assert page == again and page.count == 1
    assert len(first) == len(second) == 1  # the PREPARE travels with the first EXECUTE
    assert first[0]["sql"].startswith("PREPARE ") and second[0]["sql"].startswith("EXECUTE ")
    new = {name: plans for name, plans in prepared_statements().items() if name not in before}
    assert list(new.values()) == [(2, 0)]


def test_shapes_whose_plan_depends_on_the_values_are_planned_each_time():
    before = prepared_statements()
    selectors.movie_page(page=1, page_size=24, search="alpha")  # a rare word walks the title index, a common one not
    selectors.segment_page(page=1, page_size=24, scene_type="kissing", search="alpha")
    selectors.movie_page(page=1, page_size=24, ordering="-segment_count")  # sorts every row
    selectors.segment_page(page=1, page_size=24, scene_type="kissing", min_duration=5.0)
    assert prepared_statements() == before


def test_a_lost_statement_is_prepared_again(user, make_movie):
    make_movie(user, title="Alpha")
    selectors.movie_page(page=1, page_size=24)
    with connection.cursor() as cur:
        cur.execute("DEALLOCATE ALL")  # as DISCARD ALL or a pooler would
    with pytest.raises(DatabaseError, match="does not exist"), transaction.atomic():
        selectors.movie_page(page=1, page_size=24)
    assert selectors.movie_page(page=1, page_size=24).count == 1


@pytest.mark.django_db(transaction=True)
def test_a_new_connection_prepares_afresh(user, make_movie):
    make_movie(user, title="Alpha")
    assert selectors.movie_page(page=1, page_size=24).count == 1
    connection.close()
    with CaptureQueriesContext(connection) as queries:
        assert selectors.movie_page(page=1, page_size=24).count == 1
    assert queries[-1]["sql"].startswith("PREPARE ")
    with connection.cursor() as cur:
        cur.execute("SHOW plan_cache_mode")
        assert cur.fetchone() == ("force_generic_plan",)
