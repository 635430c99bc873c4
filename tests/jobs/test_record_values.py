"""record_values: one over-long or odd SIS value is cut to its column, whichever field it is in."""
import pytest

from connectors.records import PersonRecord
from jobs.fields import FIELDS, LIMITS, PARENT_FIELDS, record_values


def record(**changes) -> PersonRecord:
    base = PersonRecord("s-1", "student", "Ann", "Lee", "", "ann@sis.example.org", "ann", "N1", ("05",), "",
                        "active", True, ("s0",), (), None, "student")
    return base._replace(**changes)


@pytest.mark.parametrize("field, change", [
    ("given_name", {"given_name": "A" * 300}), ("grade", {"grades": ("1" * 60,)}), ("phone", {"phone": "9" * 150}),
    ("email", {"email": "X" * 400 + "@sis.example.org"})])
def test_one_long_value_is_cut_to_its_column_and_the_rest_kept(field, change):
    values = dict(zip(FIELDS, record_values(record(**change), None)))
    assert len(values[field]) == LIMITS[field]
    plain = dict(zip(FIELDS, record_values(record(), None)))
    assert {k: v for k, v in values.items() if k != field} == {k: v for k, v in plain.items() if k != field}
    assert values["email"] == values["email"].lower()


def test_parent_contact_is_cut_and_a_separator_in_a_name_becomes_a_space():
    contact = ("P" * 500, "p@home.example.org", "1" * 120)
    values = dict(zip(FIELDS + PARENT_FIELDS, record_values(record(family_name="Lee\x1fKim"), contact)))
    assert len(values["parent_name"]) == LIMITS["parent_name"] and len(values["parent_phone"]) == LIMITS["parent_phone"]
    assert values["family_name"] == "Lee Kim" and values["parent_email"] == "p@home.example.org"
    assert values["role"] == "student" and values["given_name"] == "Ann"
