"""Retry-After: honoured up to 4 minutes, never past the run's deadline, and the run kept alive meanwhile."""
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import pytest
import responses

from connectors.client import OneRosterClient
from connectors.errors import ProviderUnavailable

from connector_helpers import DATA, TOKEN, make_settings

USERS = f"{DATA}/users"


class Clock:
    """A fake monotonic clock that the injected sleep moves forward (no real sleeping)."""

    def __init__(self):
        self.now, self.slept = 1000.0, []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def _sis(rsps, *busy):
    """A token, then one reply per `busy` value (a status and its Retry-After), then the (empty) listing."""
    rsps.add(responses.POST, TOKEN, json={"access_token": "t", "expires_in": 3600})
    for status, retry_after in busy:
        rsps.add(responses.GET, USERS, status=status, headers={"Retry-After": retry_after})
    rsps.add(responses.GET, USERS, json={"users": []})


def _client(clock, **extra):
    return OneRosterClient(make_settings(), sleep=clock.sleep, clock=clock, **extra)


@pytest.mark.parametrize("status", [429, 503])
def test_a_sis_asking_for_three_minutes_gets_three_minutes(status):
    """Cut to 60 s, the SIS was asked again too early, refused again, and the night failed."""
    clock, beats = Clock(), []
    with responses.RequestsMock() as rsps:
        _sis(rsps, (status, "180"))
        with _client(clock) as client:
            client.bound_waits(clock() + 3600, keepalive=lambda: beats.append(clock()))
            assert list(client.iter_pages("users")) == []
    assert sum(clock.slept) == 180 and max(clock.slept) <= 20  # slept in slices...
    assert len(beats) == 9  # ...keeping the run's lock and heartbeat alive after each


def test_retry_after_as_an_http_date_is_honoured():
    clock = Clock()
    when = format_datetime(datetime.now(timezone.utc) + timedelta(minutes=3), usegmt=True)
    with responses.RequestsMock() as rsps:
        _sis(rsps, (429, when))
        with _client(clock) as client:
            list(client.iter_pages("users"))
    assert 170 <= sum(clock.slept) <= 181  # the date has whole seconds


def test_a_wait_longer_than_four_minutes_fails_at_once_saying_what_the_sis_asked():
    clock = Clock()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        _sis(rsps, (429, "600"))
        with _client(clock) as client:
            with pytest.raises(ProviderUnavailable) as err:
                list(client.iter_pages("users"))
    message = err.value.message
    assert clock.slept == [] and "asked the portal to wait 10 minutes" in message
    assert "HTTP 429" in message and "longer than the 4 minutes the portal waits" in message
    assert "Try again later" in message and "ask the SIS vendor about the rate limits" in message


def test_four_minutes_is_still_waited():
    clock = Clock()
    with responses.RequestsMock() as rsps:
        _sis(rsps, (429, "240"))
        with _client(clock) as client:
            list(client.iter_pages("users"))
    assert clock.slept == [240.0]  # no keepalive given: one sleep


def test_a_wait_past_the_runs_deadline_fails_at_once():
    clock = Clock()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        _sis(rsps, (429, "180"))
        with _client(clock) as client:
            client.bound_waits(clock() + 100)
            with pytest.raises(ProviderUnavailable) as err:
                list(client.iter_pages("users"))
    message = err.value.message
    assert clock.slept == [] and "asked the portal to wait 3 minutes" in message
    assert "must finish within 100 seconds from now" in message and "rate limits" in message


def test_the_deadline_counts_every_wait_of_the_run():
    """Three asks of 3 minutes with 8 minutes left: the first two are waited, the third would end past the deadline."""
    clock = Clock()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        _sis(rsps, (429, "180"), (429, "180"), (429, "180"))
        with _client(clock) as client:
            client.bound_waits(clock() + 480)
            with pytest.raises(ProviderUnavailable, match="must finish within 2 minutes"):
                list(client.iter_pages("users"))
    assert sum(clock.slept) == 360


def test_a_keepalive_that_gives_up_stops_the_wait():
    """The job's keepalive raises when another run took the lock: the wait ends there, with that error."""
    clock = Clock()

    class Lost(Exception):
        pass

    def keepalive():
        if clock() >= 1040:
            raise Lost()

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        _sis(rsps, (429, "180"))
        with _client(clock) as client:
            client.bound_waits(clock() + 3600, keepalive)
            with pytest.raises(Lost):
                list(client.iter_pages("users"))
    assert sum(clock.slept) == 40
