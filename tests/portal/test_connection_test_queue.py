"""Test connection runs on a worker, never in the web request (finding 5): the page polls for the checklist,
the job carries no secret, the result is the starter's alone, and per-user limits refuse with a 429."""
import re
import time

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import SimpleWorker

from jobs import check_records
from store.db import db
from store.models import AuditEvent
from tests.support import csrf_token
from tests.factories import make_district_manager, make_owner, make_school
from tests.support import running_sandbox

HX = {"HX-Request": "true"}


@pytest.fixture(scope="module")
def aeries():
    with running_sandbox("aeries", students=20, seed=3) as box:
        yield box


@pytest.fixture
def world(app, client, auth, aeries):
    aeries.clear_faults()
    school = make_school(slug="lincoln")
    owner = make_owner(school)
    auth.login(owner.email)
    return {"school": school, "owner": owner}


def values(sandbox, **overrides):
    info = sandbox.info
    typed = {"vendor": "aeries", "method": "oneroster", "url": info["base_url"] + "/", "client_id": info["client_id"],
             "client_secret": info["client_secret"], "school_id": info["school_ids"][0]}
    return {**typed, **overrides}


def start(client, data, htmx=True):
    data = dict(data, csrf_token=csrf_token(client, "/schools/lincoln/rostering"))
    return client.post("/schools/lincoln/rostering/connection/test", data=data, headers=HX if htmx else {})


def poll_url(response) -> str:
    return re.search(r'hx-get="([^"]+)"', response.get_data(as_text=True)).group(1)


def work(app):
    SimpleWorker([app.check_queue], connection=app.redis).work(burst=True)


def every_redis_value(app) -> bytes:
    """Every string, list and sorted-set member in the test Redis, as one blob to search."""
    blob = b""
    for key in app.redis.scan_iter():
        kind = app.redis.type(key)
        if kind == b"string":
            blob += app.redis.get(key) or b""
        elif kind == b"hash":
            blob += b"".join(k + v for k, v in app.redis.hgetall(key).items())
        elif kind == b"list":
            blob += b"".join(app.redis.lrange(key, 0, -1))
        elif kind == b"zset":
            blob += b"".join(app.redis.zrange(key, 0, -1))
    return blob


def test_the_request_returns_at_once_against_a_sis_that_never_answers(app, client, world, aeries):
    aeries.set_faults(hang=30)  # every request to the SIS waits 30 s
    timings = []
    data = dict(values(aeries), csrf_token=csrf_token(client, "/schools/lincoln/rostering"))
    for _ in range(2):  # the finding: two tests held a small gunicorn for 15 s
        began = time.perf_counter()
        response = client.post("/schools/lincoln/rostering/connection/test", data=data, headers=HX)
        timings.append(time.perf_counter() - began)
        html = response.get_data(as_text=True)
        assert response.status_code == 202
        assert 'hx-trigger="every 1s"' in html and "Testing the connection" in html and 'class="spinner"' in html
    assert max(timings) < 0.5, timings

    jobs = [app.check_queue.fetch_job(job_id) for job_id in app.check_queue.job_ids]
    assert [(job.func_name, len(job.args)) for job in jobs] == [(check_records.JOB, 1)] * 2
    secret = aeries.info["client_secret"].encode()
    assert all(secret not in job.data for job in jobs)  # the job's arguments hold an id only
    assert secret not in every_redis_value(app)  # the settings wait for the worker sealed


def test_a_worker_runs_the_test_and_the_poll_shows_its_checklist(app, client, world, aeries):
    response = start(client, values(aeries, client_secret=aeries.info["client_secret"]))  # typed, never saved
    url = poll_url(response)
    waiting = client.get(url, headers=HX).get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in waiting and "Testing the connection" in waiting

    work(app)

    done = client.get(url, headers=HX)
    html = done.get_data(as_text=True)
    assert done.status_code == 200 and "hx-trigger" not in html and "<html" not in html
    assert "Connection works: every check passed." in html and html.count('<li class="ok') >= 8
    assert not list(app.redis.scan_iter(f"{check_records.PREFIX}:*:sealed"))  # deleted once used
    [event] = db.session.scalars(db.select(AuditEvent).filter_by(action="connection_tested")).all()
    host = re.escape(aeries.info["base_url"].split("/aeries")[0])  # the origin the credentials went to
    assert re.fullmatch(rf"Connection test of {host}: (\d+) of \1 checks passed\.", event.detail), event.detail
    assert aeries.info["client_secret"] not in event.detail


def test_a_denied_area_keeps_its_row_and_fix_after_the_poll(app, client, world, aeries):
    aeries.set_faults(deny=["teachers", "users"])  # no listing left to fall back to
    url = poll_url(start(client, values(aeries)))
    work(app)
    html = client.get(url, headers=HX).get_data(as_text=True)
    row = re.search(r'<li class="denied" data-check="read:teachers">.*?</li>', html, re.S).group(0)
    assert "Enable READ for Teacher Data on the Aeries API Security page, then do a full IIS reset." in row


def test_without_javascript_the_post_shows_a_running_page_with_a_refresh_link(app, client, world, aeries):
    response = start(client, values(aeries, client_id="typed-id-kept"), htmx=False)
    html = response.get_data(as_text=True)
    assert response.status_code == 202 and "<html" in html
    assert 'value="typed-id-kept"' in html and aeries.info["client_secret"] not in html
    link = re.search(r'<noscript><p><a href="([^"]+)">Refresh to see the result</a>', html).group(1)
    work(app)
    page = client.get(link)
    result = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in result
    assert "takes up to 20 seconds" not in result and '<li class="failed" data-check="token">' in result
    assert re.search(r"\d+ checks? failed\.", result) and 'value="typed-id-kept"' not in result  # the saved form again


UNSAVED = "These settings are not saved yet: press <strong>Save connection</strong>."


def save(client, data):
    data = dict(data, csrf_token=csrf_token(client, "/schools/lincoln/rostering"))
    return client.post("/schools/lincoln/rostering/connection", data=data)


def test_a_passing_test_of_unsaved_settings_says_to_save_them(app, client, world, aeries):
    """A wrong secret was saved, the right one typed and tested: "every check passed" alone read as done, and the
    next Preview failed on the saved secret."""
    assert save(client, values(aeries, client_secret="a-wrong-secret")).status_code == 302
    url = poll_url(start(client, values(aeries)))
    work(app)
    html = client.get(url, headers=HX).get_data(as_text=True)
    assert "Connection works: every check passed." in html and UNSAVED in html

    assert save(client, values(aeries)).status_code == 302  # saved as tested
    url = poll_url(start(client, values(aeries)))
    work(app)
    assert UNSAVED not in client.get(url, headers=HX).get_data(as_text=True)


def test_a_failing_test_of_unsaved_settings_does_not_ask_to_save_them(app, client, world, aeries):
    url = poll_url(start(client, values(aeries, client_secret="a-wrong-secret")))
    work(app)
    html = client.get(url, headers=HX).get_data(as_text=True)
    assert "check failed." in html and UNSAVED not in html


def test_the_result_is_only_for_the_user_and_school_that_started_it(app, client, auth, world, aeries):
    owners = poll_url(start(client, values(aeries)))
    make_school(world["school"].district, slug="elsewhere")
    auth.logout()
    auth.login(make_district_manager(world["school"].district).email)  # manages both schools
    assert client.get(owners, headers=HX).status_code == 404  # the owner's test, not theirs
    mine = poll_url(start(client, values(aeries)))
    work(app)
    assert client.get(mine, headers=HX).status_code == 200
    assert client.get(mine.replace("/lincoln/", "/elsewhere/"), headers=HX).status_code == 404  # another school
    assert client.get(mine.replace("/lincoln/", "/elsewhere/")).status_code == 404
    for junk in ("%2E%2E", "x" * 30, "x" * 200):
        assert client.get(f"/schools/lincoln/rostering/connection/test/{junk}", headers=HX).status_code == 404


def test_results_expire(app, client, world, aeries):
    url = poll_url(start(client, values(aeries)))
    check_id = url.rsplit("/", 1)[1]
    ttl = app.redis.ttl(f"{check_records.PREFIX}:{check_id}")
    assert 0 < ttl <= check_records.RESULT_SECONDS
    assert 0 < app.redis.ttl(f"{check_records.PREFIX}:{check_id}:sealed") <= check_records.SEALED_SECONDS
    app.redis.delete(f"{check_records.PREFIX}:{check_id}")  # as Redis does when the time is up
    assert client.get(url, headers=HX).status_code == 404


def test_a_third_test_at_once_is_refused_with_429_until_one_finishes(app, client, world, aeries):
    assert start(client, values(aeries)).status_code == 202
    assert start(client, values(aeries)).status_code == 202
    refused = start(client, values(aeries))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "You already have 2 connection tests running. Wait for one to finish" in refused.get_data(as_text=True)
    assert len(app.check_queue) == 2  # the refused one queued nothing

    work(app)  # both finish and give back their places

    assert start(client, values(aeries)).status_code == 202


def test_more_than_six_starts_a_minute_are_refused_with_429(app, client, world, aeries):
    for _ in range(check_records.MAX_STARTS_PER_MINUTE):
        response = start(client, values(aeries))
        assert response.status_code == 202
        check_records.release(app.redis, world["owner"].id, poll_url(response).rsplit("/", 1)[1])  # as if done
    refused = start(client, values(aeries), htmx=False)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 429 and "<html" in html
    assert "You started 6 connection tests in the last minute. Wait" in html and "then press Test connection" in html
    assert 0 < int(refused.headers["Retry-After"]) <= 61


def test_limits_are_per_user(app, client, auth, world, aeries):
    for _ in range(2):
        start(client, values(aeries))
    auth.logout()
    auth.login(make_district_manager(world["school"].district).email)
    assert start(client, values(aeries)).status_code == 202


def test_a_test_no_worker_ran_ends_with_a_message_instead_of_polling_forever(app, client, world, aeries):
    url = poll_url(start(client, values(aeries)))
    check_id = url.rsplit("/", 1)[1]
    test = check_records.load(app.redis, check_id)
    test.started_at -= check_records.GIVE_UP_SECONDS + 1
    check_records.save(app.redis, test)
    html = client.get(url, headers=HX).get_data(as_text=True)
    assert "hx-trigger" not in html and "no background worker ran it in time" in html


def test_settings_that_expired_before_a_worker_came_test_nothing(app, client, world, aeries):
    url = poll_url(start(client, values(aeries)))
    for key in app.redis.scan_iter(f"{check_records.PREFIX}:*:sealed"):
        app.redis.delete(key)  # as the two-minute expiry does
    work(app)
    html = client.get(url, headers=HX).get_data(as_text=True)
    assert "hx-trigger" not in html and "waited too long for a worker" in html and "Press Test connection again" in html


def test_a_queue_that_is_down_is_a_503_with_what_to_do(app, client, world, aeries, monkeypatch):
    def down(*args, **kwargs):
        raise RedisConnectionError("Connection refused")
    monkeypatch.setattr(app.check_queue, "enqueue", down)
    response = start(client, values(aeries))
    assert response.status_code == 503 and "Try again in a minute" in response.get_data(as_text=True)
    assert app.redis.zcard(f"{check_records.PREFIX}:user:{world['owner'].id}:running") == 0


def test_bad_fields_are_still_422_next_to_the_field_and_queue_nothing(app, client, world, aeries):
    response = start(client, values(aeries, url="https://demo.aeries.net"))
    assert response.status_code == 422 and "sub-directory" in response.get_data(as_text=True)
    assert len(app.check_queue) == 0


def test_the_cli_test_still_runs_inline(app, runner, world, aeries):
    from portal.rostering import service
    service.save_connection(world["school"], "aeries", values(aeries), actor=None)
    result = runner.invoke(args=["roster", "test", "--school", "lincoln"])
    assert result.exit_code == 0 and "✓ Token obtained" in result.output
    assert len(app.check_queue) == 0
    assert db.session.scalar(db.select(AuditEvent.detail).filter_by(action="connection_tested")).startswith(
        f"Connection test of {aeries.info['base_url'].split('/aeries')[0]}: ")
