"""PowerSchool, Skyward, Synergy and ClassLink through the Rostering page's form, then synced against the sandbox."""
import pytest

from jobs.connection import get_connection
from store.models import Person
from tests.support import SETTINGS, csrf_token, expected_people, page_form, running_sandbox, sync
from portal.rostering import service

HX = {"HX-Request": "true"}
NEW = {"powerschool": "PowerSchool SIS", "skyward": "Skyward", "synergy": "Synergy (Edupoint)",
       "classlink": "ClassLink Roster Server"}
SANDBOXES = {"powerschool": {}, "skyward": {"base_path": "/api"}, "synergy": {}, "classlink": {"auth": "oauth1"}}
PAGE = "/schools/lincoln/rostering"


def test_the_vendor_select_lists_the_new_vendors(client, owner):
    html = client.get(PAGE).get_data(as_text=True)
    for key, label in NEW.items():
        assert f'<option value="{key}"' in html and label in html


@pytest.mark.parametrize("vendor,shown", [
    ("powerschool", ["PowerSchool URL", "Token URL", "Plugin Management Configuration", "not confirmed"]),
    ("skyward", ["OneRoster API URL", "Key", "Secured User", "do not name the token URL"]),
    ("synergy", ["Token Endpoint URL", "deprecated by Synergy", "OneRoster Client ID"]),
    ("classlink", ["Roster Server URL", "Client ID (Key)", "OAuth 1.0a", "name no token URL"])])
def test_each_vendors_fields_and_help_render(client, owner, vendor, shown):
    html = client.get(f"{PAGE}/vendor-fields?vendor={vendor}", headers=HX).get_data(as_text=True)
    assert 'id="vendor-fields"' in html and "Your OneRoster provider gives you" not in html
    for text in shown:
        assert text in html, text
    assert 'name="client_secret"' in html and 'type="password"' in html


def test_classlink_preselects_oauth1(client, owner):
    html = client.get(f"{PAGE}/vendor-fields?vendor=classlink", headers=HX).get_data(as_text=True)
    assert '<option value="oauth1" selected>' in html


def test_a_bad_skyward_url_is_reported_beside_the_field(client, owner, world):
    data = {"vendor": "skyward", "method": "oneroster", "url": "https://skyward.district.org/scripts",
            "token_url": "https://skyward.district.org/api/token", "client_id": "k", "client_secret": "s",
            "school_id": "1", "csrf_token": csrf_token(client, PAGE)}
    response = client.post(f"{PAGE}/connection", data=data, headers=HX)
    assert response.status_code == 422 and "must end with /api" in response.get_data(as_text=True)
    assert get_connection(world["school"]) is None


@pytest.mark.parametrize("vendor", sorted(NEW))
def test_each_new_vendor_configured_on_the_page_syncs_and_a_resync_changes_nothing(client, owner, world, vendor):
    with running_sandbox("oneroster", students=30, seed=11, **SANDBOXES[vendor]) as box:
        info = box.info
        response = client.post(f"{PAGE}/connection", data=page_form(client, box, vendor, PAGE), headers=HX)
        assert response.status_code == 204 and response.headers["HX-Redirect"] == PAGE
        conn = get_connection(world["school"])
        assert (conn.vendor, conn.auth_mode) == (vendor, info["auth_mode"])
        html = client.get(PAGE).get_data(as_text=True)
        assert "Connection saved." in html and f'<option value="{vendor}" selected>' in html
        assert info["client_secret"] not in html
        service.save_sync_settings(conn, **SETTINGS)

        first = sync(world["school"])
        assert first.status == "succeeded", first.error_message
        expected = expected_people(box)
        assert first.created == len(expected) > 0
        rostered = {p.source_id for p in Person.query.filter_by(school_id=world["school"].id)
                    if p.source_id}
        assert set(expected) <= rostered

        again = sync(world["school"])
        assert again.status == "succeeded", again.error_message
        assert (again.created, again.updated, again.archived) == (0, 0, 0)
        assert again.unchanged == len(expected)
