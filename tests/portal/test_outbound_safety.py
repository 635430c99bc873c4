"""The SIS URL is typed by users: the server must not be steered at internal addresses (SSRF)."""
import http.server
import socket
import threading

import pytest
import responses

from connectors import netguard
from connectors.client import OneRosterClient
from connectors.checklist import run_connection_test
from connectors.errors import BadResponse
from connectors.netguard import BlockedDestination, OutboundPolicy, classify
from connectors.settings import ConnectionSettings
from portal.config import check_production_config
from jobs.outbound import outbound_policy_for

PRODUCTION = outbound_policy_for({"PORTAL_ENV": "production"})
TEST_MODE = outbound_policy_for({"PORTAL_ENV": "test"})
TOKEN_BODY = {"access_token": "tok", "expires_in": 3600}


def settings_for(base: str) -> ConnectionSettings:
    return ConnectionSettings(vendor="oneroster", base_url=base, token_urls=(f"{base}/token",),
                              client_id="cid", client_secret="top-secret-value", school_id="sch1")


def fake_dns(monkeypatch, answers: dict[str, list]):
    """Answer getaddrinfo from a table; a list of lists gives successive answers (rebinding)."""
    calls = []

    def resolve(host, port):
        calls.append(host)
        answer = answers[host]
        if answer and isinstance(answer[0], list):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (a, port)) for a in answer]

    monkeypatch.setattr(netguard, "resolve", resolve)
    return calls


@pytest.fixture
def no_connections(monkeypatch):
    """Fail loudly if anything opens a TCP connection."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"a connection was opened to {args[0]}")
    monkeypatch.setattr(netguard.u3connection, "create_connection", refuse)


def start_sis_server(tls_context=None):
    """A real HTTP(S) server on loopback that records method, path and Host of each request."""
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _reply(self):
            seen.append((self.command, self.path, self.headers["Host"]))
            if self.path.startswith("/redirect"):
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.end_headers()
                return
            body = b'{"access_token": "tok", "expires_in": 3600}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _reply

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls_context:
        server.socket = tls_context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


@pytest.fixture
def sis_server():
    server, seen = start_sis_server()
    yield server.server_address[1], seen
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("address, kind", [
    ("10.0.0.5", "private network"),
    ("192.168.1.20", "private network"),
    ("172.16.0.1", "private network"),
    ("169.254.169.254", "link-local"),
    ("127.0.0.1", "loopback"),
    ("::1", "loopback"),
    ("0.0.0.0", "unspecified"),
    ("224.0.0.251", "multicast"),
    ("240.0.0.1", "reserved"),
    ("100.64.0.1", "reserved"),
    ("fe80::1", "link-local"),
    ("fd00::1", "private network"),
    ("::ffff:169.254.169.254", "link-local"),  # IPv4-mapped IPv6 is not a way round
    ("64:ff9b::a9fe:a9fe", "link-local"),       # nor is NAT64
    ("8.8.8.8", ""),
    ("2606:4700::1111", ""),
])
def test_internal_addresses_are_recognised(address, kind):
    assert classify(address).startswith(kind) if kind else classify(address) == ""


@responses.activate
def test_metadata_address_is_refused_before_any_request(no_connections):
    responses.post("http://169.254.169.254/latest/token", json=TOKEN_BODY)
    with OneRosterClient(settings_for("http://169.254.169.254/latest"), policy=PRODUCTION) as client:
        with pytest.raises(BlockedDestination) as caught:
            client.authenticate()
    assert "link-local address" in caught.value.message and "169.254.169.254" in caught.value.message
    assert len(responses.calls) == 0


@responses.activate
def test_host_whose_dns_answer_is_private_is_refused(monkeypatch, no_connections):
    fake_dns(monkeypatch, {"sis.example.org": ["10.0.0.5"]})
    responses.post("https://sis.example.org/oneroster/token", json=TOKEN_BODY)
    with OneRosterClient(settings_for("https://sis.example.org/oneroster"), policy=PRODUCTION) as client:
        with pytest.raises(BlockedDestination) as caught:
            client.authenticate()
    assert caught.value.message == (
        "The SIS URL sis.example.org points to a private network address (10.0.0.5). The portal only "
        "connects to SIS servers on the public internet; if your SIS is on-premises, ask the portal "
        "operator to add it to PORTAL_OUTBOUND_ALLOWLIST.")
    assert len(responses.calls) == 0


@responses.activate
def test_one_private_answer_among_public_ones_is_enough_to_refuse(monkeypatch, no_connections):
    fake_dns(monkeypatch, {"sis.example.org": ["93.184.215.14", "127.0.0.1"]})
    with OneRosterClient(settings_for("https://sis.example.org"), policy=PRODUCTION) as client:
        with pytest.raises(BlockedDestination, match="loopback address"):
            client.authenticate()


@pytest.mark.parametrize("allowlist", [("10.20.0.0/16",), ("sis.district.local",), (".district.local",)])
@responses.activate
def test_allowlisted_on_premises_sis_is_reached(monkeypatch, allowlist):
    fake_dns(monkeypatch, {"sis.district.local": ["10.20.1.5"]})
    responses.post("https://sis.district.local/token", json=TOKEN_BODY)
    policy = outbound_policy_for({"PORTAL_ENV": "production", "PORTAL_OUTBOUND_ALLOWLIST": ", ".join(allowlist)})
    with OneRosterClient(settings_for("https://sis.district.local"), policy=policy) as client:
        client.authenticate()
    assert len(responses.calls) == 1


def test_allowlist_does_not_open_other_private_ranges(monkeypatch, no_connections):
    fake_dns(monkeypatch, {"sis.example.org": ["10.99.0.1"]})
    policy = OutboundPolicy(allowlist=("10.20.0.0/16", "other.district.local"))
    with OneRosterClient(settings_for("https://sis.example.org"), policy=policy) as client:
        with pytest.raises(BlockedDestination, match=r"10\.99\.0\.1"):
            client.authenticate()


def test_loopback_sandbox_is_allowed_in_test_mode_but_not_production(sis_server):
    port, seen = sis_server
    with OneRosterClient(settings_for(f"http://127.0.0.1:{port}"), policy=TEST_MODE) as client:
        client.authenticate()
    assert seen == [("POST", "/token", f"127.0.0.1:{port}")]
    with OneRosterClient(settings_for(f"http://127.0.0.1:{port}"), policy=PRODUCTION) as client:
        with pytest.raises(BlockedDestination, match="loopback address"):
            client.authenticate()
    assert len(seen) == 1


def test_connects_to_the_checked_address_and_keeps_the_host_name(monkeypatch, sis_server):
    port, seen = sis_server
    calls = fake_dns(monkeypatch, {"sis.test": ["127.0.0.1"]})
    with OneRosterClient(settings_for(f"http://sis.test:{port}"), policy=TEST_MODE) as client:
        client.authenticate()
    assert seen == [("POST", "/token", f"sis.test:{port}")]  # Host (and so SNI for https) unchanged
    assert calls == ["sis.test", "sis.test"]  # pre-check, then the one lookup the connection uses


def test_dns_answer_that_changes_after_the_check_is_refused(monkeypatch, sis_server):
    port, seen = sis_server
    fake_dns(monkeypatch, {"sis.example.org": [["93.184.215.14"], ["127.0.0.1"]]})
    with OneRosterClient(settings_for(f"http://sis.example.org:{port}"), policy=PRODUCTION,
                         max_retries=0) as client:
        with pytest.raises(BlockedDestination, match="loopback"):
            client.authenticate()
    assert seen == []


def test_redirect_to_the_metadata_service_is_refused(sis_server):
    port, seen = sis_server
    with OneRosterClient(settings_for(f"http://127.0.0.1:{port}"), policy=TEST_MODE) as client:
        # Refused before any hop leaves the saved origin (connectors.secret_reuse), so netguard need not see it.
        with pytest.raises(BadResponse, match="sent the request on to 169.254.169.254"):
            client.get(f"http://127.0.0.1:{port}/redirect")
    assert [path for _, path, _ in seen] == ["/token", "/redirect"]  # nothing after the redirect


def test_without_a_policy_existing_callers_are_unchanged(sis_server):
    port, seen = sis_server
    with OneRosterClient(settings_for(f"http://127.0.0.1:{port}")) as client:
        client.authenticate()
    assert len(seen) == 1


def test_connection_test_shows_the_refusal_as_an_actionable_row(monkeypatch, no_connections):
    fake_dns(monkeypatch, {"sis.example.org": ["192.168.4.4"]})
    rows = run_connection_test(settings_for("https://sis.example.org"), deadline_seconds=5, policy=PRODUCTION)
    token = rows[0]
    assert token.status == "failed"
    assert "private network address (192.168.4.4)" in token.detail
    assert "PORTAL_OUTBOUND_ALLOWLIST" in token.detail
    assert all(row.status == "skipped" for row in rows[1:])


def test_policy_for_the_portal_follows_the_environment():
    assert PRODUCTION == OutboundPolicy(allow_private=False, allow_loopback=False, allowlist=())
    assert TEST_MODE.allow_loopback and not TEST_MODE.allow_private
    assert outbound_policy_for({"PORTAL_ENV": "development"}).allow_loopback


@pytest.mark.parametrize("value", ["10.0.0.0/33", "sis district.org", "http://sis.example.org"])
def test_a_mistyped_allowlist_refuses_to_start(value):
    with pytest.raises(RuntimeError, match="PORTAL_OUTBOUND_ALLOWLIST"):
        check_production_config({"PORTAL_ENV": "development", "PORTAL_OUTBOUND_ALLOWLIST": value})


def _self_signed(tmp_path, host):
    """A certificate for `host` (and its key) written to tmp_path."""
    from datetime import datetime, timedelta, timezone

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=1))
            .not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


def test_https_keeps_sni_and_certificate_checks_for_the_host_name(monkeypatch, tmp_path):
    import ssl
    cert, key = _self_signed(tmp_path, "sis.test")
    names = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    server, seen = start_sis_server(context)
    port = server.server_address[1]
    fake_dns(monkeypatch, {"sis.test": ["127.0.0.1"]})
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # requests lets these beat session.verify
        monkeypatch.delenv(name, raising=False)
    try:
        with OneRosterClient(settings_for(f"https://sis.test:{port}"), policy=TEST_MODE, max_retries=0) as client:
            client.session.verify = cert  # trust the test certificate; it is still checked against "sis.test"
            client.authenticate()
    finally:
        server.shutdown()
        server.server_close()
    assert names == ["sis.test"]
    assert seen == [("POST", "/token", f"sis.test:{port}")]
