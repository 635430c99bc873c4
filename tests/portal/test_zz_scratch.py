import io, pytest
from store.db import db
from store.models import RosterBundle
from tests.connectors.csv_helpers import bundle_files, zip_bytes, users, user_row
from tests.factories import make_csv_connection, make_school, make_owner
from tests.support import csrf_token, text

@pytest.fixture
def school(app, bundle_store):
    school = make_school(slug="probe-high")
    make_owner(school, email="owner@probe.example.org")
    make_csv_connection(school)
    return school

def test_cut(app, client, auth, school):
    auth.login("owner@probe.example.org")
    token = csrf_token(client, f"/schools/{school.slug}/rostering")
    content = zip_bytes(bundle_files(users_csv=users(*[user_row(f"u{i}") for i in range(5000)])))
    b = "XyZboundary"
    body = (f"--{b}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n--{b}\r\n"
            f"Content-Disposition: form-data; name=\"bundle\"; filename=\"x.zip\"\r\nContent-Type: application/zip\r\n\r\n").encode() + content + f"\r\n--{b}--\r\n".encode()
    for cut in (len(body) // 2, len(body) - 10):
        r = client.post(f"/schools/{school.slug}/rostering/bundles", input_stream=io.BytesIO(body[:cut]),
                        content_type=f"multipart/form-data; boundary={b}", headers={"Content-Length": str(len(body))})
        print("\nCUT", cut, r.status_code, text(r).split("<main",1)[-1][:900])
        print(db.session.scalars(db.select(RosterBundle)).all())
    # body complete but boundary end missing
    r = client.post(f"/schools/{school.slug}/rostering/bundles", data=body[:-(len(b)+6)],
                    content_type=f"multipart/form-data; boundary={b}")
    print("\nNOEND", r.status_code, text(r).split("<main",1)[-1][:900])
    print([(x.status, x.summary) for x in db.session.scalars(db.select(RosterBundle)).all()])
