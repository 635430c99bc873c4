"""Issue 12 finding 4: an SIS that echoes the credentials never gets them shown, stored, logged or emailed.

The sandbox's `echo_credentials` switch makes it repeat the Basic header, the secret (plain and
URL-encoded) or its bearer token; every text a user or operator sees is checked for every form.
"""
import base64
import html
import logging
from urllib.parse import quote, quote_plus

import pytest

from connectors.checklist import run_connection_test
from store.db import db
from portal.extensions import mail
from store.models import Person, SyncIssue
from tests.factories import make_owner, make_school
from tests.support import connect, sandbox_fixture, sync

CLIENT_ID = "district id/7"
SECRET = "p@ss/w+rd&Q=9 x!"  # characters that URL-, form- and HTML-encoding all change


def credential_forms(tokens=()) -> dict[str, str]:
    """Every spelling of the credentials an SIS could repeat, computed here rather than by the code under test."""
    forms = {"secret": SECRET, "secret URL-encoded": quote(SECRET, safe=""), "secret form-encoded": quote_plus(SECRET),
             "secret HTML-escaped": html.escape(SECRET),
             "Basic value": base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode(),
             "Basic value, form-encoded pair": base64.b64encode(
                 f"{quote_plus(CLIENT_ID)}:{quote_plus(SECRET)}".encode()).decode()}
    forms.update({f"token {i}": token for i, token in enumerate(tokens)})
    return forms


def leaks(text: str, tokens=()) -> list[str]:
    return [name for name, form in credential_forms(tokens).items() if form in (text or "")]


box = sandbox_fixture(schools=1, students=20, seed=8, client_id=CLIENT_ID, client_secret=SECRET, scope="module")


@pytest.fixture
def school(app, box):
    box.clear_faults()
    school = make_school(slug="echo-high")
    owner = make_owner(school)
    owner.sync_report_opt_in = True
    db.session.commit()
    connect(school, box)
    return school


def _sync_capturing(school, caplog):
    caplog.set_level(logging.INFO)
    with mail.record_messages() as outbox:
        run = sync(school)
    return run, outbox


def _run_page(client, auth, school, run) -> str:
    """The run's page as its owner sees it."""
    auth.login(db.session.scalar(db.select(Person.email).where(Person.school_id == school.id, Person.role == "owner")))
    return client.get(f"/schools/{school.slug}/rostering/runs/{run.id}").get_data(as_text=True)


def test_a_token_endpoint_that_echoes_the_basic_header_shows_none_of_it(school, box, caplog, client, auth):
    box.set_faults(echo_credentials="token")
    run, outbox = _sync_capturing(school, caplog)

    assert run.status == "failed"
    assert "refused the Client ID and Secret (HTTP 401" in run.error_message and "••••" in run.error_message
    assert leaks(run.error_message) == []
    assert leaks(caplog.text) == [] and f"sync run {run.id} failed" in caplog.text
    [message] = outbox
    assert "FAILED" in message.subject and leaks(message.body) == [] and leaks(message.html) == []
    page = _run_page(client, auth, school, run)
    assert "refused the Client ID and Secret" in page and leaks(page) == []


def test_a_data_endpoint_that_echoes_the_bearer_token_shows_none_of_it(school, box, caplog, client, auth):
    box.set_faults(echo_credentials="data")
    run, outbox = _sync_capturing(school, caplog)

    tokens = list(box.credentials.tokens)
    assert run.status == "failed" and tokens and "HTTP 400" in run.error_message
    assert leaks(run.error_message, tokens) == [] and leaks(caplog.text, tokens) == []
    assert leaks(outbox[0].body, tokens) == [] and leaks(outbox[0].html, tokens) == []
    assert leaks(_run_page(client, auth, school, run), tokens) == []


def test_records_that_echo_the_credentials_are_masked_in_issue_rows_and_the_report(school, box, caplog):
    box.set_faults(echo_credentials="records")
    run, outbox = _sync_capturing(school, caplog)

    tokens = list(box.credentials.tokens)
    rows = db.session.scalars(db.select(SyncIssue).where(SyncIssue.run_id == run.id)).all()
    bad = [row for row in rows if row.kind == "bad_record"]
    assert bad and all("has no givenName or familyName" in row.message and "••••" in row.record for row in bad)
    assert [leaks(row.message, tokens) + leaks(row.record, tokens) for row in rows] == [[] for _ in rows]
    assert leaks(outbox[0].body, tokens) == [] and leaks(outbox[0].html, tokens) == []
    assert leaks(caplog.text, tokens) == []


def test_the_connection_test_masks_every_form_not_only_the_plain_secret(box):
    box.set_faults(echo_credentials="token")
    try:
        rows = run_connection_test(box.settings(), deadline_seconds=10)
    finally:
        box.clear_faults()
    token = rows[0]
    assert token.status == "failed" and "HTTP 401" in token.detail
    assert [leaks(row.detail + row.fix) for row in rows] == [[] for _ in rows]


def test_cli_sync_output_shows_none_of_the_echo(school, box, runner):
    box.set_faults(echo_credentials="token")
    result = runner.invoke(args=["roster", "sync", "--school", "echo-high"])
    assert result.exit_code == 1 and "refused the Client ID and Secret" in result.output
    assert leaks(result.output) == []
    result = runner.invoke(args=["roster", "test", "--school", "echo-high"])
    assert result.exit_code == 1 and "✗ Token obtained" in result.output and leaks(result.output) == []


def test_a_token_endpoint_that_echoes_the_secret_with_lower_case_percent_escapes_shows_none_of_it(box):
    """An SIS whose stack writes %2f rather than %2F (RFC 3986 makes the two equal) still gets the secret masked."""
    import dataclasses
    import json
    import re
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    def lower(text):
        return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)
    said = (f"client_secret {lower(quote(SECRET, safe=''))} / {lower(quote_plus(SECRET))} / basic "
            + base64.b64encode(lower(f"{quote_plus(CLIENT_ID)}:{quote_plus(SECRET)}").encode()).decode())

    class Echo(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps({"error": "invalid_client", "error_description": said}).encode()
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    root = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        settings = dataclasses.replace(box.settings(), base_url=root + "/oneroster", token_urls=(root + "/token",))
        rows = run_connection_test(settings, deadline_seconds=10)
    finally:
        server.shutdown()
        server.server_close()
    shown = " ".join(row.detail + row.fix for row in rows)
    assert rows[0].status == "failed" and "HTTP 401" in rows[0].detail
    assert [lower(form) for form in credential_forms().values() if lower(form) in shown] == []
