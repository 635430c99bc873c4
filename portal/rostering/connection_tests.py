"""Connection tests from the Rostering page: validated in the request, run on a worker, polled by the page."""
from flask import current_app

from connectors.errors import InvalidSettings
from jobs import check_records
from jobs.check_records import ConnectionTest
from jobs.connection import get_connection
from store.models import Person, School
from store.secrets import fernet

from . import service


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
    redis = current_app.redis
    check_records.admit(redis, actor.id, test.check_id)
    try:
        check_records.save(redis, test)
        check_records.seal(redis, fernet(), test, settings)
        current_app.check_queue.enqueue(check_records.JOB, test.check_id, job_id=f"connection-test-{test.check_id}",
                                        job_timeout=check_records.JOB_TIMEOUT, result_ttl=0, failure_ttl=3600)
    except Exception:
        check_records.release(redis, actor.id, test.check_id)
        raise
    return test


def test_of(check_id: str, school: School, user: Person) -> ConnectionTest | None:
    """The test, only for the user and school that started it (None otherwise, and once it expired)."""
    test = check_records.load(current_app.redis, check_id)
    return test if test is not None and test.belongs_to(user.id, school.id) else None
