"""Connection tests from the Rostering page: validated in the request, run on a worker, polled by the page."""
import hashlib
import hmac
import json
from dataclasses import asdict

from flask import current_app

from connectors.errors import InvalidSettings
from connectors.settings import ConnectionSettings
from jobs import check_records
from jobs.check_records import ConnectionTest
from jobs.connection import get_connection
from store.models import Person, School
from store.secrets import fernet

from . import service


def fingerprint(settings: ConnectionSettings) -> str:
    """A keyed hash of the settings (secret included): equal settings give equal prints, and the print alone
    tells nothing about the secret to someone who reads Redis without the app's SECRET_KEY."""
    data = json.dumps(asdict(settings), sort_keys=True, default=str).encode()
    return hmac.new(current_app.secret_key.encode(), data, hashlib.sha256).hexdigest()


def start_test(school: School, vendor: str, values: dict, actor: Person) -> ConnectionTest:
    """Validate the form (InvalidSettings), count the start against the user's limits (TooManyTests), and queue
    the test; the job gets only the test's id. Raises RedisError when the queue is unreachable."""
    conn = get_connection(school)
    if conn is not None and conn.source is not None:  # the source's secret is tested on the Sources page only
        raise InvalidSettings({"vendor": f"{school.name} is connected through the district's source "
                                         f"\"{conn.source.name}\"; its District Manager tests it on the district's "
                                         "Sources page."})
    settings = service.settings_to_test(school, vendor, values)
    test = check_records.new_test(actor.id, school.id, settings)
    test.fingerprint = fingerprint(settings)
    check_records.queue_sealed(current_app.redis, current_app.check_queue, fernet(), test, settings,
                               save_test=check_records.save, job=check_records.JOB,
                               job_id=f"connection-test-{test.check_id}", then=check_records.remember_latest)
    return test


def test_of(check_id: str, school: School, user: Person) -> ConnectionTest | None:
    """The test, only for the user and school that started it (None otherwise, and once it expired)."""
    test = check_records.load(current_app.redis, check_id)
    return test if test is not None and test.belongs_to(user.id, school.id) else None


def latest_test(school: School, user: Person) -> ConnectionTest | None:
    """The user's newest test of this school within the last ten minutes, or None."""
    return check_records.latest(current_app.redis, user.id, school.id)
