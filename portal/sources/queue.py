"""Source tests from the Sources page: validated in the request, run on a worker (jobs.source_checks), polled."""
from flask import current_app

from jobs import check_records, source_checks
from jobs.source_checks import SourceTest
from store.models import Person, Source
from store.secrets import fernet

from . import service


def start_test(source: Source, vendor: str, values: dict, actor: Person) -> SourceTest:
    """Validate the form (InvalidSettings), count it against the user's test limits (TooManyTests), queue it.
    The job gets only the test's id; the settings travel sealed. Raises RedisError when Redis is down."""
    settings = service.settings_to_test(source, vendor, values)
    test = source_checks.new_test(actor.id, source, settings)
    check_records.queue_sealed(current_app.redis, current_app.check_queue, fernet(), test, settings,
                               save_test=source_checks.save, job=source_checks.JOB,
                               job_id=f"source-test-{test.check_id}")
    return test


def test_of(check_id: str, source: Source, user: Person) -> SourceTest | None:
    """The test, only for the user and source that started it (None otherwise, and once it expired)."""
    test = source_checks.load(current_app.redis, check_id)
    return test if test is not None and test.belongs_to_source(user.id, source.id) else None
