"""What the district night's reader process hands over per page (connectors.district_read.read_page): one head per
record the night files, in order, beside its payload, whatever the SIS put in the values."""
from connectors.district_read import NOT_A_RECORD, PERSON, UNREADABLE, read_page
from connectors.packed import GS, pack_record
from connectors.records import normalise_user
from jobs.spool import unpack_record

STUDENT = {"sourcedId": "s-1", "role": "student", "givenName": "Ana", "familyName": "Ruiz", "status": "active",
           "orgs": [{"sourcedId": "sch-1"}], "agents": [{"sourcedId": "g-1"}],
           "dateLastModified": "2026-11-30T04:05:06Z"}
PAGE = [
    STUDENT,
    dict(STUDENT, sourcedId="s-2", givenName="Ana\x1dMaría"),  # the page's own separator inside a value: a space
    dict(STUDENT, sourcedId="t-1", role="teacher"),            # not a role of this listing's step
    dict(STUDENT, sourcedId="g-1", role="guardian", orgs=[], agents=[{"sourcedId": "s-1"}]),
    dict(STUDENT, sourcedId=7, role="student", givenName="", familyName=""),  # unreadable: no names, id not text
    {"sourcedId": "w-1", "role": "wizard", "orgs": [{"sourcedId": "sch-1"}]},  # unreadable, no role to file under
    ["not", "a", "record"],
]


def test_each_kept_record_comes_with_its_own_payload_in_page_order():
    payloads, heads = read_page(PAGE, frozenset({"student", "parent"}), parents=True)
    texts = payloads.split(GS)
    assert len(texts) == 6  # everything but the teacher
    assert [unpack_record(t).person for t in texts[:3]] == [normalise_user(r) for r in (PAGE[0], PAGE[1], PAGE[3])]
    # A "P" payload says its role, orgs, agents and sourcedId itself: a head only where it cannot.
    assert set(heads) == {3, 4, 5}
    assert texts[1][0] == "P" and unpack_record(texts[1]).person.given_name == "Ana María"  # no separator left
    assert heads[3] == (UNREADABLE, "student", ("sch-1",), ("g-1",), "7")  # sourcedId as the night hashes it
    assert heads[4][:2] == (UNREADABLE, None) and heads[5][0] == NOT_A_RECORD
    assert texts[3:5] == [pack_record(PAGE[4], None), pack_record(PAGE[5], None)]
    assert unpack_record(texts[5]) == PAGE[6]


def test_a_person_whose_payload_cannot_say_it_comes_with_a_head():
    spaced = dict(STUDENT, sourcedId=" s-9 ")  # the night hashes the sourcedId as sent, not as normalised
    named = dict(STUDENT, sourcedId="s-8", dateLastModified=20261130)  # a date not given as text: packed as JSON
    payloads, heads = read_page([spaced, STUDENT, named], frozenset({"student"}), parents=True)
    assert heads == {0: (PERSON, "student", ("sch-1",), ("g-1",), " s-9 "),
                     2: (PERSON, "student", ("sch-1",), ("g-1",), "s-8")}
    assert payloads.split(GS)[2][0] == "J"


def test_parents_are_left_out_when_no_school_syncs_parent_contact():
    payloads, heads = read_page(PAGE, frozenset({"student", "parent"}), parents=False)
    assert len(payloads.split(GS)) == 5 and set(heads) == {2, 3, 4}
    assert "g-1" not in [unpack_record(t).person.source_id for t in payloads.split(GS)[:2]]
    assert read_page([], frozenset({"student"}), parents=True) == ("", {})
