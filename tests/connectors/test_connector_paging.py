"""Paging stop rules of OneRosterClient.iter_pages against canned HTTP responses."""
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from connectors.client import OneRosterClient
from connectors.errors import BadResponse, ConnectorError
from tests.support import running_sandbox

from connector_helpers import DATA, TOKEN, make_settings, user


def token_ok(rsps, expires_in=3600):
    rsps.add(responses.POST, TOKEN, json={"access_token": "tok", "token_type": "Bearer", "expires_in": expires_in})


def serve_users(rsps, records, *, cap=None, total=True, link=False, key="users"):
    """A fake users endpoint honouring limit/offset with an optional silent cap."""
    def callback(request):
        q = parse_qs(urlsplit(request.url).query)
        assert q["sort"] == ["sourcedId"]
        limit, offset = int(q["limit"][0]), int(q["offset"][0])
        if cap:
            limit = min(limit, cap)
        page = records[offset:offset + limit]
        headers = {"X-Total-Count": str(len(records))} if total else {}
        if link and offset + limit < len(records):
            headers["Link"] = f'<{DATA}/users?limit={limit}&offset={offset + limit}&sort=sourcedId>; rel="next"'
        return 200, headers, json.dumps({key: page})
    rsps.add_callback(responses.GET, f"{DATA}/users", callback=callback)


def ids(client, **kwargs):
    return [r["sourcedId"] for page in client.iter_pages("users", **kwargs) for r in page]


RECORDS = [user(f"u{i:03d}") for i in range(25)]


@pytest.mark.parametrize("total,link", [(True, False), (False, True), (False, False), (True, True)])
def test_every_stop_rule_reads_each_record_once(total, link):
    with responses.RequestsMock() as rsps:
        token_ok(rsps)
        serve_users(rsps, RECORDS, total=total, link=link)
        with OneRosterClient(make_settings(), page_size=10) as client:
            assert ids(client) == [r["sourcedId"] for r in RECORDS]


def test_total_count_stops_without_an_extra_request():
    with responses.RequestsMock() as rsps:
        token_ok(rsps)
        serve_users(rsps, RECORDS, total=True)
        with OneRosterClient(make_settings(), page_size=10) as client:
            ids(client)
            assert client.request_count == 1 + 3  # token + pages of 10, 10, 5


def test_without_headers_an_empty_page_ends_the_collection():
    with responses.RequestsMock() as rsps:
        token_ok(rsps)
        serve_users(rsps, RECORDS, total=False)
        with OneRosterClient(make_settings(), page_size=10) as client:
            assert len(ids(client)) == 25
            assert client.request_count == 1 + 4  # the 4th page is the empty one


def test_short_page_is_not_the_end():
    pages = [RECORDS[:10], RECORDS[10:13], RECORDS[13:], []]  # the server sends a short page mid-way

    def callback(request):
        return 200, {}, json.dumps({"users": pages.pop(0)})

    with responses.RequestsMock() as rsps:
        token_ok(rsps)
        rsps.add_callback(responses.GET, f"{DATA}/users", callback=callback)
        with OneRosterClient(make_settings(), page_size=10) as client:
            assert len(ids(client)) == 25


@pytest.mark.parametrize("total", [True, False])
def test_silently_capped_limit_still_yields_every_record_once(total):
    with responses.RequestsMock() as rsps:
        token_ok(rsps)
        serve_users(rsps, RECORDS, cap=4, total=total)
        with OneRosterClient(make_settings(), page_size=10) as client:
            assert ids(client) == [r["sourcedId"] for r in RECORDS]


def test_link_to_another_host_is_not_followed():
    def callback(request):
        q = parse_qs(urlsplit(request.url).query)
        offset = int(q["offset"][0])
        headers = {"X-Total-Count": "25", "Link": '<https://evil.example.com/steal>; rel="next"'}
        return 200, headers, json.dumps({"users": RECORDS[offset:offset + 10]})

    with responses.RequestsMock() as rsps:
        token_ok(rsps)
        rsps.add_callback(responses.GET, f"{DATA}/users", callback=callback)
        with OneRosterClient(make_settings(), page_size=10) as client:
            assert len(ids(client)) == 25


def test_filter_and_fields_are_sent_url_encoded():
    with responses.RequestsMock() as rsps:
        token_ok(rsps)
        rsps.add(responses.GET, f"{DATA}/users", json={"users": []})
        with OneRosterClient(make_settings()) as client:
            ids(client, filter="dateLastModified>'2026-01-01T00:00:00Z'", fields=["sourcedId", "givenName"])
        url = rsps.calls[1].request.url
    assert "filter=dateLastModified%3E%272026-01-01T00%3A00%3A00Z%27" in url
    assert parse_qs(urlsplit(url).query)["fields"] == ["sourcedId,givenName"]


def test_server_ignoring_offset_is_reported_not_looped():
    with responses.RequestsMock() as rsps:
        token_ok(rsps)
        rsps.add(responses.GET, f"{DATA}/users", json={"users": RECORDS[:10]})
        with OneRosterClient(make_settings(), page_size=10) as client:
            with pytest.raises(BadResponse, match="ignore the offset"):
                ids(client)


@pytest.mark.parametrize("key", ["users", "students", "teachers"])
def test_people_envelope_keys_are_all_accepted(key):
    with responses.RequestsMock() as rsps:
        token_ok(rsps)
        serve_users(rsps, RECORDS[:3], key=key)
        with OneRosterClient(make_settings()) as client:
            assert len(ids(client)) == 3


@pytest.mark.parametrize("vendor", ["aeries", "infinite-campus", "oneroster"])
def test_a_school_listing_that_ignores_paging_is_read_once_when_shorter_than_the_limit(vendor):
    with running_sandbox(vendor, schools=2, students=30, seed=9) as box:
        box.set_faults(unpaged=["schools/*/students", "schools/*/teachers"])
        settings = box.settings()
        with OneRosterClient(settings, page_size=100) as client:
            pages = list(client.iter_pages(f"schools/{settings.school_id}/students"))
            assert client.request_count == 3  # token, the collection, the same collection again
        expected = sorted(p.source_id for p in box.people() if p.role == "student")
        assert [len(p) for p in pages] == [len(expected)]
        assert sorted(r["sourcedId"] for r in pages[0]) == expected


@pytest.mark.parametrize("vendor,said", [("aeries", "X-Total-Count header announced 15"),
                                         ("infinite-campus", "X-Total-Count header announced 15"),
                                         ("oneroster", "Link header said another page follows")])
def test_a_capped_listing_that_ignores_offset_is_an_incomplete_read_not_the_whole(vendor, said):
    """The server caps the page at 5 and always serves offset 0: the same 5 came again and were read as the whole
    listing, so the school's other students counted as having left the roster."""
    with running_sandbox(vendor, schools=2, students=30, seed=9, page_cap=5) as box:
        box.set_faults(offset_ignored=["schools/*/students"])
        settings = box.settings()
        with OneRosterClient(settings, page_size=100) as client, pytest.raises(BadResponse) as caught:
            list(client.iter_pages(f"schools/{settings.school_id}/students"))
    assert "The SIS sent the same 5 students records again for the next page although" in caught.value.message
    assert said in caught.value.message
    assert "so the rest cannot be read and nothing was changed" in caught.value.message


@pytest.mark.parametrize("said", ["0", "10"])
def test_a_total_count_smaller_than_what_arrived_is_not_the_end(said):
    """An X-Total-Count of 0 (or less than one page) beside a full page stopped the read after that page: everyone
    after it counted as having left the roster."""
    def callback(request):
        offset = int(parse_qs(urlsplit(request.url).query)["offset"][0])
        return 200, {"X-Total-Count": said}, json.dumps({"users": RECORDS[offset:offset + 20]})

    with responses.RequestsMock() as rsps:
        token_ok(rsps)
        rsps.add_callback(responses.GET, f"{DATA}/users", callback=callback)
        with OneRosterClient(make_settings(), page_size=20) as client:
            assert ids(client) == [r["sourcedId"] for r in RECORDS]


@pytest.mark.parametrize("wrap", [lambda offset: offset % 25, lambda offset: 0 if offset >= 25 else offset])
def test_a_listing_that_wraps_around_past_its_end_is_an_error_not_an_endless_read(wrap):
    """Served past its end from the start again (offset modulo the size), the read never ended: the same 25 people
    came back page after page until the sync's two-hour limit, and the SIS was asked for them all along."""
    def callback(request):
        offset = wrap(int(parse_qs(urlsplit(request.url).query)["offset"][0]))
        return 200, {}, json.dumps({"users": RECORDS[offset:offset + 10]})

    with responses.RequestsMock() as rsps:
        token_ok(rsps)
        rsps.add_callback(responses.GET, f"{DATA}/users", callback=callback)
        with OneRosterClient(make_settings(), page_size=10) as client, pytest.raises(BadResponse) as err:
            ids(client)
        assert len(rsps.calls) == 5  # the token, three pages, and the one that started over
    assert err.value.message.startswith("The SIS's users listing started over: the page at offset 25 begins with the "
                                        "same record as the page at offset 0")


def test_a_repeated_full_page_is_still_an_error():
    with running_sandbox("oneroster", schools=2, students=30, seed=9) as box:
        box.set_faults(unpaged=["schools/*/students"])
        settings = box.settings()
        with OneRosterClient(settings, page_size=5) as client, pytest.raises(BadResponse) as caught:
            list(client.iter_pages(f"schools/{settings.school_id}/students"))
        assert "The SIS sent the same page twice at offset 15" in caught.value.message


@pytest.mark.parametrize("empty_at", [0, 10, 20])
def test_an_empty_page_before_the_announced_total_is_an_incomplete_read(empty_at):
    """It was read as the end of the listing: everyone after it counted as having left the roster (with Archive
    on, archived whenever their share stayed under the guard's)."""
    def callback(request):
        offset = int(parse_qs(urlsplit(request.url).query)["offset"][0])
        page = [] if offset >= empty_at else RECORDS[offset:offset + 10]
        return 200, {"X-Total-Count": str(len(RECORDS))}, json.dumps({"users": page})

    with responses.RequestsMock() as rsps:
        token_ok(rsps)
        rsps.add_callback(responses.GET, f"{DATA}/users", callback=callback)
        with OneRosterClient(make_settings(), page_size=10) as client:
            with pytest.raises(BadResponse) as err:
                ids(client)
    assert f"ended after {empty_at} of the 25 records its X-Total-Count header announced" in err.value.message
    assert "nothing was changed" in err.value.message


def test_an_empty_page_reached_by_the_servers_own_link_before_its_count_is_an_incomplete_read():
    """Paging by Link does not make an early empty page the end: a Link that skips every other page read 200 of 376
    users and the rest counted as having left (archived where the SIS offers no single-user look-up)."""
    def callback(request):
        offset = int(parse_qs(urlsplit(request.url).query)["offset"][0])
        link = f'<{DATA}/users?limit=5&offset={offset + 10}&sort=sourcedId>; rel="next"'  # skips a page each time
        return 200, {"X-Total-Count": "25", "Link": link}, json.dumps({"users": RECORDS[offset:offset + 5]})

    with responses.RequestsMock() as rsps:
        token_ok(rsps)
        rsps.add_callback(responses.GET, f"{DATA}/users", callback=callback)
        with OneRosterClient(make_settings(), page_size=5) as client, \
                pytest.raises(BadResponse, match=r"ended after 15 of the 25 records its X-Total-Count header announced"):
            ids(client)


def test_a_count_too_low_on_a_page_boundary_is_read_past():
    """A server that caps limit at 10 and counts 20 of its 25 users: stopping at the count, 5 people counted as having
    left. A full page reaching the count asks for one more page."""
    def callback(request):
        offset = int(parse_qs(urlsplit(request.url).query)["offset"][0])
        return 200, {"X-Total-Count": "20"}, json.dumps({"users": RECORDS[offset:offset + 10]})

    with responses.RequestsMock() as rsps:
        token_ok(rsps)
        rsps.add_callback(responses.GET, f"{DATA}/users", callback=callback)
        with OneRosterClient(make_settings(), page_size=100) as client:
            assert len(ids(client)) == 25


@pytest.mark.parametrize("past_the_end", ["error", "wraps"])
def test_a_right_count_on_a_page_boundary_ends_however_the_server_answers_past_it(past_the_end):
    def callback(request):
        offset = int(parse_qs(urlsplit(request.url).query)["offset"][0])
        if offset >= 20:
            if past_the_end == "error":
                return 400, {}, json.dumps({"imsx_description": "offset out of range"})
            offset = 0
        return 200, {"X-Total-Count": "20"}, json.dumps({"users": RECORDS[offset:offset + 10]})

    with responses.RequestsMock() as rsps:
        token_ok(rsps)
        rsps.add_callback(responses.GET, f"{DATA}/users", callback=callback)
        with OneRosterClient(make_settings(), page_size=10) as client:
            assert len(ids(client)) == 20
            assert client.request_count == 1 + 3


def test_a_link_next_pointing_back_to_the_first_page_is_named_as_the_links_fault():
    """It was put down to the SIS ignoring offset, which the client had not sent: the SIS's own link looped."""
    def callback(request):
        link = f'<{DATA}/users?limit=10&offset=0&sort=sourcedId&page=again>; rel="next"'
        return 200, {"Link": link}, json.dumps({"users": RECORDS[:10]})

    with responses.RequestsMock() as rsps:
        token_ok(rsps)
        rsps.add_callback(responses.GET, f"{DATA}/users", callback=callback)
        with OneRosterClient(make_settings(), page_size=10) as client, \
                pytest.raises(BadResponse, match="Link header for the next page of users points back to the page "
                                                 "just read") as caught:
            ids(client)
    assert "offset" not in caught.value.message.split("(")[0]


def test_a_link_that_skips_a_page_is_an_incomplete_read_not_made_whole_by_reading_on_by_offset():
    """Page 0's Link went to offset 20 (skipping 10-19), the later Links were honest and the last page had none: paging
    on by our own count of records re-read 20-24 and the count reached the total, with 10-19 never read."""
    def callback(request):
        offset = int(parse_qs(urlsplit(request.url).query)["offset"][0])
        headers = {"X-Total-Count": "25"}
        nxt = 20 if offset == 0 else offset + 10
        if nxt < 25:
            headers["Link"] = f'<{DATA}/users?limit=10&offset={nxt}&sort=sourcedId>; rel="next"'
        return 200, headers, json.dumps({"users": RECORDS[offset:offset + 10]})

    with responses.RequestsMock() as rsps:
        token_ok(rsps)
        rsps.add_callback(responses.GET, f"{DATA}/users", callback=callback)
        with OneRosterClient(make_settings(), page_size=10) as client, \
                pytest.raises(BadResponse, match="ended after 15 of the 25 records its X-Total-Count header announced "
                                                 r"\(its last page had no Link to a next page"):
            ids(client)


def test_a_cursor_server_ends_where_its_links_end():
    """Link-only paging (cursors; offset ignored, no count): a last page without a Link is the end. Paging on by offset
    got page 0 again and every night failed as "the listing started over"."""
    def callback(request):
        cursor = int(parse_qs(urlsplit(request.url).query).get("cursor", ["0"])[0])
        headers = {}
        if cursor + 10 < 25:
            headers["Link"] = f'<{DATA}/users?limit=10&cursor={cursor + 10}>; rel="next"'
        return 200, headers, json.dumps({"users": RECORDS[cursor:cursor + 10]})

    with responses.RequestsMock() as rsps:
        token_ok(rsps)
        rsps.add_callback(responses.GET, f"{DATA}/users", callback=callback)
        with OneRosterClient(make_settings(), page_size=10) as client:
            assert ids(client) == [r["sourcedId"] for r in RECORDS]
            assert client.request_count == 1 + 3


@pytest.mark.parametrize("past", [(500, "error"), (429, "slow down"), (200, "<html><body>Sign in</body></html>")])
def test_an_outage_on_the_page_past_a_full_count_fails_the_read_instead_of_ending_it(past):
    """Only a refusal (400, 404, 416, ...) past the count says the count was the end; a 500, a 429 or a web page
    ended the read as complete while the server held more than its count (a count too low by a page)."""
    status, body = past

    def callback(request):
        offset = int(parse_qs(urlsplit(request.url).query)["offset"][0])
        if offset >= 20:
            return status, {"Content-Type": "text/html" if body.startswith("<") else "text/plain"}, body
        return 200, {"X-Total-Count": "20"}, json.dumps({"users": RECORDS[offset:offset + 10]})

    with responses.RequestsMock() as rsps:
        token_ok(rsps)
        rsps.add_callback(responses.GET, f"{DATA}/users", callback=callback)
        with OneRosterClient(make_settings(), page_size=10, max_retries=0) as client, pytest.raises(ConnectorError):
            ids(client)
