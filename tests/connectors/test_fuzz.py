"""Property tests: whatever a SIS or a user sends, connectors answer with their typed errors only."""
import math
import string
from datetime import datetime

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

from connectors.errors import BadResponse, InvalidSettings
from connectors.paging import total_count
from connectors.profiles import PROFILES
from connectors.records import PersonRecord, normalise_user
from connectors.settings import ConnectionSettings
from connectors.transport import Reply, retry_after_seconds
from jobs.thresholds import PERCENT_MESSAGE, parse_threshold_override


FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

USER_KEYS = ["sourcedId", "status", "dateLastModified", "enabledUser", "orgs", "role", "roles", "username",
             "userIds", "givenName", "familyName", "middleName", "identifier", "email", "sms", "phone",
             "agents", "grades", "metadata"]
ROLES = ["student", "teacher", "aide", "administrator", "parent", "guardian", "relative", "Principal", ""]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**30, max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
    st.sampled_from(ROLES), st.sampled_from(["tobedeleted", "active", "false", "0", "yes"]),
    st.sampled_from(["2026-01-01T00:00:00Z", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00",
                     "2026-13-45", "Z", "2026-01-01T00:00:00.123456789Z"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(st.sampled_from(["sourcedId", "role", "roleType", "org",
                                                                       "type", "href"]), st.text(max_size=8)),
                                            inner, max_size=4)),
    max_leaves=12,
)
user_records = st.dictionaries(st.one_of(st.sampled_from(USER_KEYS), st.text(max_size=10)), json_values,
                               max_size=12)


@FUZZ
@given(st.one_of(user_records, json_values))
@example({"sourcedId": "u1", "role": "student", "givenName": "A", "dateLastModified": "9999-12-31T23:59:59-23:59"})
@example({"sourcedId": "u1", "role": "student", "givenName": "A", "dateLastModified": "0001-01-01T00:00:00+14:00"})
@example({"sourcedId": 10**30, "roles": [{"role": "teacher", "org": [{"sourcedId": 1}]}], "familyName": 0.5})
def test_normalise_user_only_raises_bad_response(raw):
    try:
        person = normalise_user(raw)
    except BadResponse as exc:
        assert exc.message
        return
    assert isinstance(person, PersonRecord)
    assert person.source_id and person.role
    assert person.date_last_modified is None or isinstance(person.date_last_modified, datetime)


url_like = st.one_of(
    st.text(max_size=60),
    st.builds(lambda scheme, host, path: f"{scheme}://{host}{path}",
              st.sampled_from(["https", "http", "HTTPS", "ftp", ""]),
              st.one_of(st.sampled_from(["localhost", "127.0.0.1", "[::1]", "[::1", "sis.example.org:99999",
                                         "sis.example.org:-1", "\u2100.example", "a@b", ""]),
                        st.text(alphabet=string.ascii_letters + ".-:[]@%", max_size=20)),
              st.text(alphabet=string.printable + "é/?&=#", max_size=40)),
)


def field_values(profile):
    names = [f.name for f in profile.fields] + ["auth_mode"]
    return st.fixed_dictionaries({}, optional={n: st.one_of(st.none(), url_like, st.integers()) for n in names})


def _check_profile(profile, values, loopback):
    try:
        result = profile.normalise(values, allow_loopback_http=loopback)
    except InvalidSettings as exc:
        assert exc.errors and all(isinstance(m, str) and m for m in exc.errors.values())
        return
    assert isinstance(result, ConnectionSettings)
    assert result.base_url.startswith(("https://", "http://"))


@FUZZ
@given(field_values(PROFILES["aeries"]), st.booleans())
def test_aeries_profile_only_raises_invalid_settings(values, loopback):
    _check_profile(PROFILES["aeries"], values, loopback)


@FUZZ
@given(field_values(PROFILES["infinite-campus"]), st.booleans())
@example({"url": "https://h/campus/api/oneroster/v1p1/", "app_name": "https://x/?appName=%00",
          "client_id": "a", "client_secret": "b", "school_id": "x"}, False)
def test_infinite_campus_profile_only_raises_invalid_settings(values, loopback):
    _check_profile(PROFILES["infinite-campus"], values, loopback)


@FUZZ
@given(field_values(PROFILES["oneroster"]), st.booleans())
def test_oneroster_profile_only_raises_invalid_settings(values, loopback):
    _check_profile(PROFILES["oneroster"], values, loopback)


header_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=255), max_size=80)


def reply_with(**headers) -> Reply:
    return Reply(200, CaseInsensitiveDict(headers), b"", "https://sis.example.org/x")


@FUZZ
@given(st.one_of(header_text, st.sampled_from(['<https://a/b>; rel="next"', "<>", "<", ";;;", 'rel="next"',
                                              '<https://a/b>; rel=', "<a>, <b>; rel=next prev"])))
def test_link_header_parsing_never_crashes(value):
    links = reply_with(Link=value).links()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in links.items())


@FUZZ
@given(st.one_of(header_text, st.sampled_from(["\xb2", "12", " 7 ", "-1", "1e3", "9" * 5000])))
def test_total_count_parsing_never_crashes(value):
    count = total_count(reply_with(**{"X-Total-Count": value}))
    assert count is None or (isinstance(count, int) and count >= 0)


@FUZZ
@given(st.one_of(header_text, st.sampled_from(["nan", "inf", "-5", "Wed, 21 Oct 2015 07:28:00 GMT",
                                              "Fri, 31 Dec 9999 23:59:59 GMT", "1e400"])))
def test_retry_after_parsing_never_crashes(value):
    seconds = retry_after_seconds(value)
    assert seconds is None or seconds >= 0


@FUZZ
@given(st.sampled_from(["\xb2", "9" * 5000, "-1", "abc", " 12 "]))
def test_odd_content_length_never_crashes_the_transport(value):
    import requests
    import responses

    from connectors.transport import Transport
    with responses.RequestsMock() as mock:
        mock.get("https://sis.example.org/x", body=b"{}", adding_headers={"Content-Length": value})
        try:
            reply = Transport(requests.Session(), max_retries=0, sleep=lambda s: None).send("GET", "https://sis.example.org/x")
        except BadResponse as exc:  # too big, or cut off before the stated length
            assert exc.message
            return
    assert reply.status == 200


percent_like = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**400, max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True), st.decimals(allow_nan=True, allow_infinity=True),
    st.text(max_size=30), st.text(alphabet="0123456789.-+eE_ ,%infaINFA\x00\uff10\u0665", max_size=30),
    st.builds(str, st.floats(allow_nan=True, allow_infinity=True)), st.lists(st.integers(), max_size=2),
)


@FUZZ
@given(percent_like)
@example(10**400)  # float() raises OverflowError, not ValueError
@example("-0")
@example("2_5")
@example("0" * 30 + "50")
@example("1e999")
@example("\uff12\uff15")
def test_one_run_threshold_is_none_a_percentage_or_invalid_settings(value):
    try:
        percent = parse_threshold_override(value)
    except InvalidSettings as exc:
        assert exc.errors == {"threshold_override": PERCENT_MESSAGE}
        return
    if percent is None:
        assert value is None or not value.strip()
        return
    assert type(percent) is float and 0 <= percent <= 100 and math.copysign(1, percent) == 1
