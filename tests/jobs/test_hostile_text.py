"""SIS values PostgreSQL or UTF-8 cannot hold (a NUL byte, a lone surrogate) or that no person's name holds (other
control characters, 10,000 characters), over real HTTP and PostgreSQL: one such record must not stop a school's
sync or a district night; its values are cleaned, or it is reported by name, and everyone else is synced."""
import re

import pytest

from jobs.digest import set_report_choice
from jobs.district_night import night_runs, run_night_now
from portal.extensions import mail
from tests.factories import make_district, make_district_manager, make_school, map_school
from tests.support import (SETTINGS, change_sis_person, connect, directory, expected_people, issues,
                           opted_in_owner, running_sandbox, sandbox_source, sync)

LONG = "x" * 10_000
BROKEN = re.compile("[\x00\x07\x1b\ud800-\udfff]")  # what the records held that no email should


def hostile(sandbox, bad_char="\x00") -> tuple[str, str, str, str]:
    """(a student whose every value holds hostile text, a student whose sourcedId holds `bad_char`, one whose names
    hold nothing else, one whose name holds a tab and a line break): the SIS records as served over HTTP."""
    students = sorted(p.source_id for p in expected_people(sandbox).values() if p.role == "student")
    first, second, nameless, third = students[:4]
    change_sis_person(sandbox, first, givenName="Ana\x00\x07", familyName="Ruiz\ud800\x1b[31m",
                      middleName=LONG, email="ana\x00.ruiz@sandbox.example.org", username="ana\ud800r",
                      identifier="S\x00123", phone="555\x000100", grades=["0\x009"])
    change_sis_person(sandbox, nameless, givenName="\x00", familyName="\ud800\n")
    change_sis_person(sandbox, third, givenName="Bo\tLee\r\n")
    with sandbox.data.lock:  # the record cannot be matched as sent
        record = sandbox.data.users.pop(second)
        bad = second + bad_char
        sandbox.data.users[bad] = {**record, "sourcedId": bad}
        sandbox.data.changed([second, bad])
    return first, second, nameless, third


@pytest.mark.parametrize("bad_char", ["\x00", "\ud800"])
def test_hostile_text_in_one_record_cleans_it_and_syncs_the_school(app, bad_char):
    with running_sandbox(schools=1, students=30, seed=61) as box:
        school = make_school()
        opted_in_owner(school)
        connect(school, box, sync_parents=True)
        first, second, nameless, third = hostile(box, bad_char)
        with mail.record_messages() as outbox:
            run = sync(school)
        assert run.status == "succeeded", run.error_message
        people = directory(school)
        ana = people[first]
        assert (ana.given_name, ana.family_name, ana.email, ana.username, ana.sis_id, ana.phone, ana.grade) == (
            "Ana", "Ruiz[31m", "ana.ruiz@sandbox.example.org", "anar", "S123", "5550100", "09")
        assert len(ana.middle_name) == 200
        assert second not in people and set(people) >= set(expected_people(box)) - {second, nameless}
        said = [i.message for i in issues(run) if second in i.message]
        assert said and "control character" in said[0] and "\x00" not in said[0], said
        assert (people[third].given_name, people[third].role) == ("Bo Lee", "student")
        assert nameless not in people
        [noname] = [i.message for i in issues(run) if nameless in i.message]
        assert "no givenName or familyName" in noname and "Type the name again in the SIS" in noname
        [report] = outbox  # the owner's report quotes the issues, cleaned
        assert second in report.body and not BROKEN.search(report.body + report.html + report.subject)


def test_hostile_text_in_one_record_cleans_it_on_a_district_night(app):
    with running_sandbox(schools=2, students=40, seed=62) as box:
        place = make_district(timezone="UTC")
        source = sandbox_source(place, box, automatic=True, sync_time="02:00")
        school = make_school(place)
        map_school(school, source, box.info["school_ids"][0], **dict(SETTINGS, sync_parents=True, automatic=True))
        set_report_choice(make_district_manager(place), "digest")
        first, second, nameless, third = hostile(box, "\ud800")
        with mail.record_messages() as outbox:
            night = run_night_now(source)
        assert night.status == "succeeded", night.error_message
        [digest] = outbox  # the manager's digest, built from the night's runs, holds none of it
        assert night.digest_status == "sent" and not BROKEN.search(digest.body + digest.html + digest.subject)
        [run] = night_runs(night.id)
        assert run.status == "succeeded", run.error_message
        people = directory(school)
        ana = people[first]
        assert (ana.given_name, ana.family_name, ana.email, ana.sis_id, ana.grade) == (
            "Ana", "Ruiz[31m", "ana.ruiz@sandbox.example.org", "S123", "09")
        assert second not in people and set(people) >= set(expected_people(box)) - {second, nameless}
        said = [i.message for i in issues(run) if second in i.message]
        assert said and "control character" in said[0], said
        assert people[third].given_name == "Bo Lee" and nameless not in people
