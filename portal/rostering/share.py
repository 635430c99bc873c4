"""An owner's saved connection that names the district's own SIS tenant (jobs.tenants) shares the district's source.

The school maps to the source as its School ID and keeps its own sync settings; the owner is told what happened in
words that never show the source's secret or other schools, and the District Manager sees it in the district log.
"""
from connectors.errors import InvalidSettings
from connectors.settings import ConnectionSettings
from jobs.tenants import TenantMatch, attach, mapped_elsewhere
from store.db import db
from store.models import AuditEvent, DistrictAuditEvent, Person, RosterConnection, School
from store.vocabulary import clock_text

KEPT = "roles, parent contact, Auto update, Archive, archive threshold, exclusions and email report"
# Nothing about the secret: whether it was right is the District Manager's to check, not a hint to the owner.
NOT_YOURS = ("This Client ID is your district's SIS connection, which your District Manager looks after, so nothing "
             "was saved. Ask your District Manager to connect {school} to it with School ID {sis_id}.")
SIS_SCHOOL_TAKEN = ("Your district's connection \"{source}\" already syncs SIS school {sis_id} for another school in "
                    "the portal, so nothing was saved. Check the School ID; if it is right, ask your District Manager.")


def join_source(school: School, match: TenantMatch, settings: ConnectionSettings, actor: Person | None
                ) -> RosterConnection:
    """Map the school to the source as settings.school_id, or raise InvalidSettings (audited for the District
    Manager) when the secret is not the source's or that SIS school already belongs to another portal school."""
    source, sis_id = match.source, settings.school_id
    if not match.same_secret:
        _refused(school, actor, f"{school.name} tried to save its own connection with the Client ID of "
                                f"{source.name} and another secret; nothing was saved.")
        raise InvalidSettings({"client_id": NOT_YOURS.format(school=school.name, sis_id=sis_id)})
    other = mapped_elsewhere(source, school, sis_id)
    if other is not None:
        _refused(school, actor, f"{school.name} tried to connect to {source.name} as SIS school {sis_id}, "
                                f"which is mapped to {other.name}; nothing was saved.")
        raise InvalidSettings({"school_id": SIS_SCHOOL_TAKEN.format(source=source.name, sis_id=sis_id)})
    conn, had_own = attach(school, source, sis_id, automatic=False)  # like an owner's first save: nights opt in
    own = "; the school's own saved credentials were removed" if had_own else ""
    # "source_mapped" on the school's log: jobs.bundle_files reads it (older bundles give way to the source's).
    AuditEvent.record(school, actor, "source_mapped", f"Connected to the district source {source.name} as SIS "
                                                      f"school {sis_id}: the same SIS and credentials{own}.")
    DistrictAuditEvent.record(school.district, actor, "source_joined",
                              f"{school.name} saved a connection to the same SIS and credentials as {source.name} "
                              f"and now syncs from it as SIS school {sis_id}, with its own sync settings{own}.")
    db.session.commit()
    return conn


def _refused(school: School, actor: Person | None, detail: str) -> None:
    DistrictAuditEvent.record(school.district, actor, "source_join_refused", detail)
    db.session.commit()


def joined_notice(conn: RosterConnection) -> str:
    """What the owner reads once the school shares the district's source."""
    source = conn.source
    nights = (f"Nightly syncs run at the district's time, {clock_text(source.sync_time)}, while Automatic "
              "Rostering is on." if source.automatic else "The district connection's nightly syncs are off for now.")
    return (f"{conn.school.name} now uses the district's connection \"{source.name}\" as SIS school "
            f"{conn.sis_school_id}. Its settings ({KEPT}) stay yours; your District Manager looks after the "
            f"connection itself. {nights}")
