"""Emails reach a real SMTP server whatever the SIS sent: no line over 998 characters, text intact (finding 6)."""
import email
import html
import re
import subprocess
import sys
import time
from email.policy import default
from pathlib import Path

import pytest

from jobs.report import send_run_report
from portal.auth.reset import send_reset_email
from store.db import db
from store.models import SyncIssue
from tests.factories import make_district, make_owner, make_school
from tests.support import closed_port, finished_run, opted_in_owner, reload_run, use_mail_server

ROOT = Path(__file__).resolve().parents[2]
SMTP_LINE_LIMIT = 998  # RFC 5321 4.5.3.1.6, without the CRLF
LONG_RECORD = "Malformed record: " + ("{\"givenName\": \"Zoë\", \"familyName\": \"Ñúñez\"} " * 110)  # ~5,000 chars


class DemoSink:
    """scripts/smtp_sink.py (the demo's mail sink) on a free loopback port, keeping each message as a .eml file."""

    def __init__(self, folder: Path):
        self.folder, self.port = folder, closed_port()
        self.process = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "smtp_sink.py"), "--port",
                                         str(self.port), "--folder", str(folder)],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.process.stdout.readline()  # "SMTP sink listening on …" once it accepts connections
        assert "listening" in line, line

    def messages(self, count: int, timeout: float = 10.0) -> list[bytes]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = sorted(self.folder.glob("*.eml"))
            if len(found) >= count:
                return [path.read_bytes() for path in found]
            time.sleep(0.05)
        raise AssertionError(f"the sink received {len(list(self.folder.glob('*.eml')))} of {count} messages")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self.process.stdout.close()


@pytest.fixture
def sink(app, tmp_path):
    sink = DemoSink(tmp_path)
    use_mail_server(app, sink.port)
    yield sink
    sink.stop()


def _lines_within_the_smtp_limit(raw: bytes) -> None:
    longest = max(len(line) for line in raw.split(b"\r\n"))
    assert longest <= SMTP_LINE_LIMIT, f"a line of {longest} characters"


def _text_parts(raw: bytes) -> dict[str, str]:
    message = email.message_from_bytes(raw, policy=default)
    return {part.get_content_type(): part.get_content() for part in message.walk() if not part.is_multipart()}


def test_a_report_with_a_5000_character_record_arrives_readable(app, sink):
    school = make_school(make_district(), name="École Élémentaire Saint-Exupéry")
    owner = opted_in_owner(school)
    run = finished_run(school, status="failed", issues=12, error_message="The SIS said: " + "x" * 3000)
    db.session.add(SyncIssue(run_id=run.id, source_id="stu-" + "9" * 200, kind="bad_record", message=LONG_RECORD))
    db.session.query(SyncIssue).filter_by(run_id=run.id, source_id="stu-000").update({"message": LONG_RECORD})
    run.issues = 13
    db.session.commit()

    send_run_report(run.id)

    assert reload_run(run.id).report_status == "sent", reload_run(run.id).report_error
    [raw] = sink.messages(1)
    _lines_within_the_smtp_limit(raw)
    message = email.message_from_bytes(raw, policy=default)
    assert message["To"] == owner.email and message["Subject"] == f"Rostering: {school.name} sync #1 FAILED"
    parts = _text_parts(raw)
    text, page = parts["text/plain"], html.unescape(re.sub(r"<[^>]+>", "", parts["text/html"]))
    for part in (text, page):
        assert "École Élémentaire Saint-Exupéry" in part and 'Malformed record: {"givenName": "Zoë"' in part
        assert "and 3 more, see the run page" in part  # 13 issues, 10 shown
        assert LONG_RECORD not in part and "x" * 3000 not in part  # details capped; the run page has them
    assert "SIS record stu-000: Unreadable record. Malformed record:" in text and "13 in all, first 10 shown" in text


def test_a_password_reset_email_goes_through_the_same_encoding(app, sink):
    owner = make_owner(make_school(), email="owner@district.test")
    owner.given_name, owner.family_name = "Zoë", "Ñ" * 190  # names are capped at 200 characters
    db.session.commit()

    send_reset_email(owner.email)

    [raw] = sink.messages(1)
    _lines_within_the_smtp_limit(raw)
    message = email.message_from_bytes(raw, policy=default)
    assert message["Content-Transfer-Encoding"] == "quoted-printable"
    text = message.get_content()
    assert f"Hello Zoë {'Ñ' * 190}," in text and "/reset/" in text


def test_the_sink_refuses_what_an_8bit_message_would_send(app, sink):
    """The sink is strict like real servers: an unencoded 5,000-character line is refused (why finding 6 failed)."""
    import smtplib
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as server:
        with pytest.raises(smtplib.SMTPDataError, match="Line too long"):
            server.sendmail("a@example.org", ["b@example.org"], b"Subject: x\r\n\r\n" + b"y" * 5000 + b"\r\n")
