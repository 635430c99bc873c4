"""Issue 12 finding 2: a saved SIS secret goes only to the vendor, origins and Client ID it was saved for.

The attack: leave the secret blank, type another URL (or token URL, or Client ID) and press Test
connection or Save. A real listener at the typed address records what arrives; it must get nothing.
"""
import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connectors.client import OneRosterClient
from connectors.errors import BadResponse
from connectors.sandbox import start_sandbox
from jobs.connection import get_connection, settings_for
from portal.rostering import service
from store.db import db
from store.models import AuditEvent
from tests.support import finish_connection_test
from tests.support import csrf_token
from tests.factories import make_owner, make_school

HX = {"HX-Request": "true"}
GUID = "CE8DF1FC-3242-4716-A5F5-5A957F86DC36"


class Listener:
    """A tiny HTTP server on an ephemeral port that records every request (method, path, headers, body).

    `redirect_to` answers every request with a redirect there (307 for POST, 302 for GET); `issue_token`
    answers POSTs with a token first (an SIS whose data pages redirect). Otherwise it answers 401.
    """

    def __init__(self, redirect_to: str = "", issue_token: bool = False):
        self.seen: list[dict] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                listener.seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                      "body": body.decode("utf-8", "replace")})
                if listener.issue_token and self.command == "POST":
                    return self._send(200, json.dumps({"access_token": "tok-123456789", "expires_in": 3600}))
                if listener.redirect_to:
                    self.send_response(307 if self.command == "POST" else 302)
                    self.send_header("Location", listener.redirect_to + self.path)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self._send(401, json.dumps({"error": "invalid_client"}))

            def _send(self, status, text):
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

        self.redirect_to, self.issue_token = redirect_to, issue_token
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.root = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def leaked(self, secret: str) -> list[str]:
        """Everything that arrived carrying credentials: Authorization headers and any form of the secret."""
        found = []
        for request in self.seen:
            text = json.dumps(request)
            auth = request["headers"].get("Authorization", "")
            decoded = base64.b64decode(auth[6:]).decode("utf-8", "replace") if auth.startswith("Basic ") else ""
            if auth or secret in text or secret in decoded:
                found.append(f"{request['method']} {request['path']} Authorization={auth!r}")
        return found


@pytest.fixture
def listener():
    box = Listener()
    yield box
    box.stop()


@pytest.fixture(scope="module")
def sandboxes():
    boxes = {vendor: start_sandbox(vendor, schools=1, students=10, seed=11) for vendor in
             ("aeries", "infinite-campus", "oneroster")}
    yield boxes
    for box in boxes.values():
        box.stop()


def saved_values(box) -> dict:
    """The form a user filled in for this sandbox (secret included)."""
    info = box.info
    values = {"url": info["base_url"] + ("/" if box.vendor == "aeries" else ""), "client_id": info["client_id"],
              "client_secret": info["client_secret"], "school_id": info["school_ids"][0]}
    if box.vendor == "infinite-campus":
        values.update(app_name=box.app_name, school_id=GUID)  # the sandbox's ids are not GUIDs; never reached
    if box.vendor == "oneroster":
        values.update(token_url=info["token_url"], auth_mode="oauth2")
    return values


# (saved vendor, typed vendor, what the attacker changes with the secret left blank, the message)
ATTACKS = [
    ("aeries", "aeries", lambda root, v: {"url": f"{root}/aeries/"}, "the address changed"),
    ("infinite-campus", "infinite-campus",
     lambda root, v: {"url": f"{root}/campus/api/oneroster/v1p1/minga"}, "the address changed"),
    ("oneroster", "oneroster", lambda root, v: {"token_url": f"{root}/oneroster/token"}, "the token address changed"),
    ("oneroster", "oneroster", lambda root, v: {"url": f"{root}/oneroster"}, "the address changed"),
    ("aeries", "oneroster", lambda root, v: {"url": f"{root}/oneroster", "token_url": f"{root}/oneroster/token",
                                             "auth_mode": "oauth2"}, "the SIS changed"),
]
IDS = ["aeries-url", "campus-url", "oneroster-token-url", "oneroster-base-url", "vendor-switch"]


@pytest.fixture
def owner_page(app, client, auth):
    school = make_school(slug="lincoln")
    auth.login(make_owner(school).email)

    def post(path, data):
        data = dict(data, csrf_token=csrf_token(client, "/schools/lincoln/rostering"))
        response = client.post(f"/schools/lincoln/rostering{path}", data=data, headers=HX)
        if path == "/connection/test" and response.status_code == 202:  # queued: a worker runs it, the page polls
            return finish_connection_test(app, client, response)
        return response
    return school, post


def _save(school, box):
    return service.save_connection(school, box.vendor, saved_values(box), actor=None)


@pytest.mark.parametrize("saved,typed,change,message", ATTACKS, ids=IDS)
@pytest.mark.parametrize("action", ["/connection/test", "/connection"])
def test_a_blank_secret_is_not_sent_to_a_typed_address(owner_page, sandboxes, listener, saved, typed, change,
                                                       message, action):
    school, post = owner_page
    box = sandboxes[saved]
    conn = _save(school, box)
    before = (conn.url, conn.token_url, conn.client_id, conn.vendor)
    values = saved_values(box) if saved == typed else saved_values(sandboxes[typed])
    values.update(change(listener.root, values), client_secret="", vendor=typed)
    if saved != typed:
        values["client_id"] = box.info["client_id"]

    response = post(action, values)

    html = response.get_data(as_text=True)
    assert listener.leaked(box.info["client_secret"]) == [] and listener.seen == []
    assert response.status_code == 422
    assert f"Enter the secret again: {message}." in html and 'id="field-client_secret-error"' in html
    db.session.expire_all()
    conn = get_connection(school)
    assert (conn.url, conn.token_url, conn.client_id, conn.vendor) == before  # nothing saved for the new host
    assert settings_for(conn).client_secret == box.info["client_secret"]


@pytest.mark.parametrize("action", ["/connection/test", "/connection"])
def test_a_changed_client_id_needs_the_secret_again(owner_page, sandboxes, action):
    school, post = owner_page
    box = sandboxes["aeries"]
    _save(school, box)
    response = post(action, {**saved_values(box), "vendor": "aeries", "client_id": "someone-else",
                             "client_secret": ""})
    assert response.status_code == 422
    assert "Enter the secret again: the Client ID changed." in response.get_data(as_text=True)


def test_the_same_connection_with_a_blank_secret_still_works_and_the_audit_names_the_host(owner_page, sandboxes):
    school, post = owner_page
    box = sandboxes["aeries"]
    _save(school, box)
    # Path and case changes within the same origin are the same SIS: the saved secret is still used.
    values = {**saved_values(box), "vendor": "aeries", "client_secret": "",
              "url": box.info["base_url"] + "/LoginParent.aspx"}
    response = post("/connection/test", values)
    assert response.status_code == 200 and "Token obtained" in response.get_data(as_text=True)
    saved = post("/connection", values)  # the saved connection, unchanged: saved again without a question
    assert saved.status_code == 200 and "Connection saved" in saved.get_data(as_text=True)
    details = [e.detail for e in db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id))]
    host = box.info["base_url"].split("/aeries")[0]
    assert any(d.startswith(f"Connection test of {host}") for d in details), details
    assert any(f"credentials go to {host}" in d for d in details), details
    assert not any(box.info["client_secret"] in d for d in details)


def test_a_typed_secret_may_go_to_a_new_address(owner_page, listener, sandboxes):
    """Typing the secret again is the way to move a connection: then it is the user's own secret to send."""
    school, post = owner_page
    _save(school, sandboxes["aeries"])
    response = post("/connection/test", {**saved_values(sandboxes["aeries"]), "vendor": "aeries",
                                         "url": f"{listener.root}/aeries/", "client_secret": "typed-anew"})
    assert response.status_code == 200 and len(listener.seen) == 1
    assert base64.b64decode(listener.seen[0]["headers"]["Authorization"][6:]).decode().endswith(":typed-anew")


def test_cli_configure_with_a_new_url_and_no_secret_is_refused(app, runner, sandboxes, listener):
    school = make_school(slug="cli-high")
    box = sandboxes["aeries"]
    _save(school, box)
    result = runner.invoke(args=["roster", "configure", "--school", "cli-high", "--vendor", "aeries",
                                 "--url", f"{listener.root}/aeries/", "--client-id", box.info["client_id"],
                                 "--sis-school-id", box.info["school_ids"][0]])
    assert result.exit_code == 2, result.output
    assert "--client-secret: Enter the secret again: the address changed." in result.output
    db.session.expire_all()
    assert get_connection(school).url.startswith(box.info["base_url"])
    result = runner.invoke(args=["roster", "test", "--school", "cli-high"])  # the saved host still gets it
    assert result.exit_code == 0, result.output
    assert listener.seen == [] and box.info["client_secret"] not in result.output


def test_the_token_request_does_not_follow_a_redirect_to_another_host(owner_page, listener):
    """The saved SIS answers the token POST with 307 to another host: nothing is sent there."""
    school, post = owner_page
    sis = Listener(redirect_to=listener.root)
    try:
        values = {"vendor": "oneroster", "url": f"{sis.root}/oneroster", "token_url": f"{sis.root}/oneroster/token",
                  "auth_mode": "oauth2", "client_id": "district-id", "client_secret": "district-secret-1",
                  "school_id": "sch1"}
        assert post("/connection", values).status_code == 204
        response = post("/connection/test", {**values, "client_secret": ""})
    finally:
        sis.stop()
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and len(sis.seen) == 1  # the saved host got the token request
    assert listener.seen == [] and listener.leaked("district-secret-1") == []
    assert f"sent the request on to {listener.root[7:]}" in html and "the portal did not follow it" in html


def test_data_requests_do_not_follow_a_redirect_to_another_host(listener):
    """The bearer token (as good as the secret for reading the SIS) stays on the saved origins too."""
    sis = Listener(redirect_to=listener.root, issue_token=True)
    settings = service_settings(sis.root)
    try:
        with OneRosterClient(settings, max_retries=0) as client:
            with pytest.raises(BadResponse, match="not an address saved for this connection"):
                client.first_page("schools")
    finally:
        sis.stop()
    assert [r["method"] for r in sis.seen] == ["POST", "GET"] and listener.seen == []


def service_settings(root):
    from connectors.profiles import get_profile
    return get_profile("oneroster").normalise({"url": f"{root}/oneroster", "token_url": f"{root}/oneroster/token",
                                               "auth_mode": "oauth2", "client_id": "cid", "client_secret": "s3cret!",
                                               "school_id": "sch1"}, allow_loopback_http=True)
