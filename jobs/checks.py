"""RQ job: run a connection test the Rostering page queued, off the web worker, and keep its checklist."""
from dataclasses import asdict

from flask import current_app

from connectors.checklist import CheckRow, run_connection_test
from store.db import db
from store.models import AuditEvent
from store.secrets import fernet

from . import check_records
from .outbound import outbound_policy

GONE = CheckRow("token", "Connection test", "failed",
                "The test waited too long for a worker and its settings were discarded; nothing was tested.",
                "Press Test connection again. If this keeps happening, ask the portal's administrator to check "
                "that its background workers are running.")


def run_queued_test(check_id: str) -> None:
    """Take the sealed settings, run the checklist, store the rows for the page to poll. Safe to retry.

    Runs inside the app context the worker entry (portal.worker) pushes for every job."""
    redis = current_app.redis
    test = check_records.load(redis, check_id)
    if test is None or test.done:
        return
    try:
        settings = check_records.take_sealed(redis, fernet(), check_id)
        if settings is None:
            rows = [GONE]
        else:
            test.status = "running"
            check_records.save(redis, test)
            rows = run_connection_test(settings, policy=outbound_policy())
        test.status, test.rows = "done", [asdict(row) for row in rows]
        check_records.save(redis, test)
    finally:
        check_records.release(redis, test.user_id, check_id)
    db.session.add(AuditEvent(school_id=test.school_id, actor_id=test.user_id, action="connection_tested",
                              detail=check_records.audit_detail(test.host, rows)))
    db.session.commit()
