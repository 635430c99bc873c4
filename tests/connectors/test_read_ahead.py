"""Reading ahead must not change what a read sees: every page, in order, and a listing's failure where it happened
(so a district night that fails mid-paging still changes nothing)."""
import threading

import pytest

from connectors.errors import BadResponse
from connectors.read_ahead import read_ahead


def listing(pages: int, fail_at: int | None = None):
    for n in range(pages):
        if n == fail_at:
            raise BadResponse(f"The SIS refused page {n}.")
        yield [f"record-{n}-{i}" for i in range(3)]


def test_every_page_comes_in_the_listings_order():
    assert list(read_ahead(listing(25))) == list(listing(25))


def test_a_failing_page_is_raised_after_the_pages_before_it():
    seen = []
    with pytest.raises(BadResponse, match="page 4"):
        for page in read_ahead(listing(10, fail_at=4)):
            seen.append(page)
    assert seen == list(listing(4))


def test_a_reader_that_stops_early_leaves_no_thread_fetching():
    pages = read_ahead(listing(1000))
    next(pages)
    pages.close()
    assert not any(t.name == "read-ahead" and t.is_alive() for t in threading.enumerate())
