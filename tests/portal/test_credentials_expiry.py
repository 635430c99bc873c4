"""Credentials that expire: the optional date on the Rostering form (Campus: at most 13 months ahead), the warning
on the page and in the report email from 30 days before, and a refusal after the date worded "probably expired"."""
import email
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller

from connectors.expiry import today


def shown(day) -> str:
    return day.strftime("%b ") + f"{day.day}, {day.year}"  # "Dec 1, 2026", as every page shows a date
from jobs.connection import get_connection
from store.db import db
from tests.factories import make_district, make_school
from tests.support import SETTINGS, closed_port, csrf_token, opted_in_owner, running_sandbox, sync, use_mail_server
from portal.rostering import service

HX = {"HX-Request": "true"}
PAGE = "/schools/lincoln/rostering"


@pytest.fixture
def world(app):
    school = make_school(make_district(timezone="America/Chicago"), slug="lincoln")
    return {"school": school, "owner": opted_in_owner(school)}


@pytest.fixture
def campus():
    with running_sandbox("infinite-campus", schools=1, students=8, seed=21) as box:
        yield box


def campus_form(client, box, **more):
    info = box.info
    return {"vendor": "infinite-campus", "method": "oneroster", "url": info["base_url"], "client_id": info["client_id"],
            "client_secret": info["client_secret"], "school_id": info["school_ids"][0], "app_name": info["app_name"],
            "csrf_token": csrf_token(client, PAGE), **more}


def test_the_date_is_saved_and_shown_again_and_warned_about_from_30_days_before(client, owner, world, campus):
    soon = today() + timedelta(days=12)
    response = client.post(f"{PAGE}/connection", data=campus_form(client, campus, credentials_expire_on=soon.isoformat()),
                           headers=HX)
    assert response.status_code == 204
    assert get_connection(world["school"]).credentials_expire_on == soon
    html = client.get(PAGE).get_data(as_text=True)
    assert f'value="{soon.isoformat()}"' in html
    assert f"The SIS credentials expire on {shown(soon)} (in 12 days)." in html
    assert "set a later Token Expiration Date" in html  # Campus' own words for renewing

    later = today() + timedelta(days=31)
    client.post(f"{PAGE}/connection", data=campus_form(client, campus, credentials_expire_on=later.isoformat(),
                                                       client_secret="", confirm="untested"), headers=HX)
    html = client.get(PAGE).get_data(as_text=True)
    assert get_connection(world["school"]).credentials_expire_on == later and "The SIS credentials expire" not in html

    client.post(f"{PAGE}/connection", data=campus_form(client, campus, credentials_expire_on="", client_secret="",
                                                       confirm="untested"),
                headers=HX)
    assert get_connection(world["school"]).credentials_expire_on is None


@pytest.mark.parametrize("typed, says", [
    ("next tuesday", "Give the date the credentials expire as YYYY-MM-DD"),
    ("2099-01-01", "Campus lets credentials last at most 13 months, so 2099-01-01 cannot be right"),
])
def test_a_date_that_cannot_be_right_is_refused_beside_the_field(client, owner, world, campus, typed, says):
    response = client.post(f"{PAGE}/connection", data=campus_form(client, campus, credentials_expire_on=typed),
                           headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and says in html and 'id="field-credentials_expire_on-error"' in html
    assert get_connection(world["school"]) is None


def test_other_vendors_take_any_later_date(client, owner, world):
    with running_sandbox("oneroster", schools=1, students=5, seed=22) as box:
        info = box.info
        data = {"vendor": "oneroster", "method": "oneroster", "url": info["base_url"], "token_url": info["token_url"],
                "auth_mode": "oauth2", "client_id": info["client_id"], "client_secret": info["client_secret"],
                "school_id": info["school_ids"][0], "credentials_expire_on": "2099-01-01",
                "csrf_token": csrf_token(client, PAGE)}
        assert client.post(f"{PAGE}/connection", data=data, headers=HX).status_code == 204
    assert get_connection(world["school"]).credentials_expire_on.isoformat() == "2099-01-01"


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def test_the_report_warns_too_and_a_refusal_after_the_date_says_probably_expired(app, world, campus):
    inbox, port = Inbox(), closed_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        use_mail_server(app, port)
        school = world["school"]
        values = {"url": campus.info["base_url"], "client_id": campus.info["client_id"],
                  "client_secret": campus.info["client_secret"], "school_id": campus.info["school_ids"][0],
                  "app_name": campus.info["app_name"], "credentials_expire_on": (today() + timedelta(days=3)).isoformat()}
        conn = service.save_connection(school, "infinite-campus", values, actor=None)
        service.save_sync_settings(conn, **SETTINGS)
        run = sync(school)
        assert run.status == "succeeded", run.error_message
        body = _text(inbox.messages[-1])
        assert "CREDENTIALS EXPIRING" in body and "(in 3 days)" in body and "OneRoster Provisioning" in body

        conn.credentials_expire_on = today() - timedelta(days=1)  # the date has passed, and Campus refuses them
        db.session.commit()
        campus.set_faults(credentials_expired=True)
        failed = sync(school)
        assert failed.status == "failed"
        assert f"The credentials have probably expired: they were due to expire on " \
               f"{shown(today() - timedelta(days=1))}." in failed.error_message
        body = _text(inbox.messages[-1])
        assert "probably expired" in body and "The SIS credentials expired on" in body
    finally:
        controller.stop()


def _text(message) -> str:
    return next(part.get_payload(decode=True).decode() for part in message.walk()
                if part.get_content_type() == "text/plain")


def test_a_saved_connection_without_a_date_shows_no_warning(client, owner, world, campus):
    assert client.post(f"{PAGE}/connection", data=campus_form(client, campus), headers=HX).status_code == 204
    assert "credentials-warning" not in client.get(PAGE).get_data(as_text=True)


def test_the_date_fields_example_is_a_date_not_its_format(client, owner, world, campus):
    html = client.get(PAGE).get_data(as_text=True)
    assert "For example: <code>2027-06-30</code>" in html and "For example: <code>YYYY-MM-DD</code>" not in html
