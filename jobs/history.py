"""Rostered people by role after each run that changed the directory: one INSERT … SELECT … GROUP BY per run."""
from sqlalchemy import literal

from store.db import db
from store.models import Person, RunRoleCount

COUNTED_ROLES = ("student", "teacher", "staff", "school_admin")  # the roles a sync rosters


def record_role_counts(run_id: int, school_id: int) -> None:
    """Inside the run's own transaction (sync apply or undo), so the counts are exactly what it left."""
    db.session.execute(db.delete(RunRoleCount).where(RunRoleCount.run_id == run_id))  # an approved run re-applies
    counts = (db.select(literal(run_id), Person.role, db.func.count(Person.id))
              .where(Person.school_id == school_id, Person.status == "active", Person.source_id.is_not(None),
                     Person.role.in_(COUNTED_ROLES))
              .group_by(Person.role))
    db.session.execute(db.insert(RunRoleCount).from_select(["run_id", "role", "people"], counts))
