"""The email report after a sync: who gets it, what it says, and a mail outage that changes nothing."""
import email

import pytest
from aiosmtpd.controller import Controller

from jobs.report import send_run_report
from portal.extensions import mail
from tests.factories import make_owner, make_person, make_school
from tests.support import (closed_port, connect, finished_run, opted_in_owner, reload_run, sandbox_fixture, sync,
                           use_mail_server)


class Inbox:
    """A real SMTP server on a loopback port that keeps what it receives."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp_sink(app):
    inbox = Inbox()
    port = closed_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    use_mail_server(app, port)
    yield inbox
    controller.stop()


def test_an_opted_in_owner_gets_one_report_with_the_counts_and_a_link(app, smtp_sink):
    school = make_school()
    owner = opted_in_owner(school)
    make_owner(school)  # did not opt in
    run = finished_run(school, issues=12)

    send_run_report(run.id)
    send_run_report(run.id)  # a retried job must not email twice

    assert [rcpt for rcpt, _ in smtp_sink.messages] == [[owner.email]]
    message = smtp_sink.messages[0][1]
    # the site's words: the school's own run number and "succeeded with 12 issues", as the run page says it
    assert message["Subject"] == f"Rostering: {school.name} sync #1 succeeded with 12 issues"
    parts = {part.get_content_type(): part.get_payload(decode=True).decode() for part in message.walk()
             if not part.is_multipart()}
    text, html = parts["text/plain"], parts["text/html"]
    link = f"http://127.0.0.1:5000/schools/{school.slug}/rostering/runs/{run.id}"
    for expected in ("Nightly (Automatic Rostering)", "Read from the SIS: 120", "Created: 7", "Archived: 2",
                     "Duration:  1 min 15 s", "12 in all, first 10 shown", "stu-009", link):
        assert expected in text
    assert "stu-010" not in text and f'href="{link}"' in html
    assert "Linked" not in text and "Unchanged" not in text  # counts the site never shows
    assert reload_run(run.id).report_status == "sent"


def test_the_report_names_each_person_beside_their_record_id_and_links_to_them(app):
    school = make_school()
    opted_in_owner(school)
    make_person(school, role="teacher", given_name="Ada", family_name="Lovelace", source_id="stu-001")
    run = finished_run(school, issues=3)
    with mail.record_messages() as outbox:
        send_run_report(run.id)
    [message] = outbox
    people = f"http://127.0.0.1:5000/schools/{school.slug}/people?q=stu-001"
    assert "- Ada Lovelace (Teacher), SIS record stu-001: Unreadable record. Record 1 has no family name" in message.body
    assert f"In People: {people}" in message.body and f'<a href="{people}">Ada Lovelace (Teacher)</a>' in message.html
    assert "- SIS record stu-000: Unreadable record." in message.body  # nobody here has that id: the id alone
    assert "bad_record" not in message.body


def test_nobody_opted_in_means_no_mail(app):
    school = make_school()
    make_owner(school)
    run = finished_run(school)
    with mail.record_messages() as outbox:
        send_run_report(run.id)
    assert outbox == [] and reload_run(run.id).report_status == "none_opted_in"


def test_a_mail_server_that_is_down_leaves_the_run_succeeded_and_says_why(app):
    use_mail_server(app, closed_port())
    school = make_school()
    opted_in_owner(school)
    run = finished_run(school)

    send_run_report(run.id)

    run = reload_run(run.id)
    assert (run.status, run.report_status) == ("succeeded", "not_sent")
    assert "connection refused" in run.report_error and "MAIL_PORT" in run.report_error


def test_a_report_that_cannot_be_built_leaves_the_run_succeeded_and_records_why(app, monkeypatch, caplog):
    import jobs.report

    def broken(run):
        raise KeyError("a template variable went missing")
    monkeypatch.setattr(jobs.report, "report_context", broken)
    school = make_school()
    opted_in_owner(school)
    run = finished_run(school)
    with mail.record_messages() as outbox:
        send_run_report(run.id)  # must not raise: the job that sent it is the sync
    run = reload_run(run.id)
    assert outbox == [] and (run.status, run.report_status) == ("succeeded", "not_sent")
    assert "internal error; the sync itself is unaffected" in run.report_error
    assert f"report for sync run {run.id} could not be built" in caplog.text


def test_a_failed_run_email_gives_the_reason_and_what_to_check(app):
    school = make_school()
    owner = opted_in_owner(school)
    reason = "The SIS refused the Client ID and Secret (401). Nothing was changed."
    run = finished_run(school, status="failed", error_message=reason)
    with mail.record_messages() as outbox:
        send_run_report(run.id)
    [message] = outbox
    assert message.recipients == [owner.email] and "FAILED" in message.subject
    assert reason in message.body and "run Test connection" in message.body
    assert reason in message.html


def test_a_failed_run_of_a_school_on_a_district_source_says_who_can_check_it_and_where(app):
    """The owner of a mapped school cannot run Test connection or see the source's credentials (the Rostering page
    refuses both): their email sends them to the District Managers, whose own email links the source's page."""
    from jobs.digest import set_report_choice
    from tests.factories import make_district, make_district_manager, make_source, map_school
    district = make_district()
    school = make_school(district)
    source = make_source(district, name="Unified Aeries")
    map_school(school, source, "5")
    owner = opted_in_owner(school)
    manager = make_district_manager(district)
    set_report_choice(manager, "each")
    run = finished_run(school, status="failed", error_message="The SIS refused the token (401). Nothing was changed.")
    with mail.record_messages() as outbox:
        send_run_report(run.id)
    sent = {message.recipients[0]: message for message in outbox}
    to_owner, to_manager = sent[owner.email], sent[manager.email]
    assert "run Test connection" not in to_owner.body and "Client ID and Secret in the portal" not in to_owner.body
    assert "Unified Aeries" in to_owner.body and "District Manager" in to_owner.body
    page = f"/districts/{district.id}/sources/{source.id}"
    assert "Unified Aeries" in to_manager.body and "run Test connection" in to_manager.body and page in to_manager.body
    assert page not in to_owner.body  # a page the owner would get 403 on
    assert "District Manager" in to_owner.html and page in to_manager.html


def test_a_run_held_for_review_says_it_waits_for_approval(app):
    school = make_school()
    opted_in_owner(school)
    run = finished_run(school, status="needs_review", would_archive=40, rostered_total=120)
    with mail.record_messages() as outbox:
        send_run_report(run.id)
    assert "needs your review" in outbox[0].subject
    assert "tried to archive 40 of 120 rostered people (33.3%), more than the" in outbox[0].body
    assert "approve" in outbox[0].body


sandbox = sandbox_fixture(schools=1, students=30, seed=5)


def test_a_real_sync_sends_its_own_report_with_its_counts(app, sandbox, smtp_sink, no_backoff):
    school = make_school()
    owner = opted_in_owner(school)
    connect(school, sandbox)

    run = sync(school)

    assert run.status == "succeeded" and run.created > 0 and run.report_status == "sent"
    [(rcpt, message)] = smtp_sink.messages
    text = next(p.get_payload(decode=True).decode() for p in message.walk() if p.get_content_type() == "text/plain")
    assert rcpt == [owner.email] and f"Created: {run.created}" in text.splitlines()
    assert sandbox.info["client_secret"] not in message.as_string()
