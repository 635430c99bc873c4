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
    dict(STUDENT, sourcedId="s-2", givenName="Ana\x1dMaría"),  # the page's own separator inside a value
    dict(STUDENT, sourcedId="t-1", role="teacher"),            # not a role of this listing's step
    dict(STUDENT, sourcedId="g-1", role="guardian", orgs=[], agents=[{"sourcedId": "s-1"}]),
    dict(STUDENT, sourcedId=7, role="student", givenName="", familyName=""),  # unreadable: no names, id not text
    {"sourcedId": "w-1", "role": "wizard", "orgs": [{"sourcedId": "sch-1"}]},  # unreadable, no role to file under
    ["not", "a", "record"],
]


def test_each_kept_record_comes_with_its_own_payload_in_page_order():
    heads, payloads = read_page(PAGE, frozenset({"student", "parent"}), parents=True)
    texts = payloads.split(GS)
    assert len(texts) == len(heads) == 6  # everything but the teacher
    assert [h[0] for h in heads] == [PERSON, PERSON, PERSON, UNREADABLE, UNREADABLE, NOT_A_RECORD]
    assert [h[1] for h in heads] == ["student", "student", "parent", "student", None, None]
    assert heads[0][2:] == (("sch-1",), ("g-1",), "s-1") and heads[2][3:] == (("s-1",), "g-1")
    assert heads[3][4] == "7"  # the sourcedId as the night's parent links hash it
    assert unpack_record(texts[1]).person == normalise_user(PAGE[1])  # the GS in the name did not split the page
    assert texts[3:5] == [pack_record(PAGE[4], None), pack_record(PAGE[5], None)]
    assert unpack_record(texts[5]) == PAGE[6]


def test_parents_are_left_out_when_no_school_syncs_parent_contact():
    heads, payloads = read_page(PAGE, frozenset({"student", "parent"}), parents=False)
    assert [h[1] for h in heads] == ["student", "student", "student", None, None]
    assert len(payloads.split(GS)) == 5
    assert read_page([], frozenset({"student"}), parents=True) == ([], "")
