"""An owner's saved connection that names the district's own SIS tenant (jobs.tenants) shares the district's source.

The school maps to the source as its School ID and keeps its own sync settings; the owner is told what happened in
words that never show the source's secret or other schools, and the District Manager sees it in the district log.
Schools saving one tenant and secret while the district has no source on it get one made from their connections.
"""
from connectors.errors import InvalidSettings
from connectors.settings import ConnectionSettings
from jobs.tenants import TenantMatch, attach, mapped_elsewhere, source_from
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


SAME_SIS_SCHOOL = ("Your district already syncs SIS school {sis_id} for another school in the portal with this SIS and "
                   "credentials, so nothing was saved. Check the School ID; if it is right, ask your District Manager.")
# The owner of the other school reads it on the school's audit log; neither owner is shown the other school's name.
PAIRED = ("Connected to the district source {source} as SIS school {sis_id}: {why}, so both now share one district "
          "connection and the SIS is read once a night for both. This school's sync settings stay its own; the "
          "school's own saved credentials were removed.")
SAVER_WHY = "your district already synced this SIS with the same credentials for another school"
TWIN_WHY = "another school of your district saved a connection to this SIS with the same credentials"


def pairable(school: School, twins: list[RosterConnection], settings: ConnectionSettings, actor: Person | None
             ) -> list[RosterConnection]:
    """The twins to share a source with, one per SIS school (the oldest); raises InvalidSettings (audited for the
    District Manager) when the school's own School ID is one of theirs: one source maps a SIS school once."""
    sis_id = settings.school_id.strip().lower()
    clash = next((twin for twin in twins if twin.sis_school_id.strip().lower() == sis_id), None)
    if clash is not None:
        _refused(school, actor, f"{school.name} tried to save its own connection as SIS school {settings.school_id} "
                                f"on the same SIS and credentials as {clash.school.name}, which syncs that SIS "
                                "school; nothing was saved.")
        raise InvalidSettings({"school_id": SAME_SIS_SCHOOL.format(sis_id=settings.school_id)})
    seen: dict[str, RosterConnection] = {}
    for twin in twins:
        seen.setdefault(twin.sis_school_id.strip().lower(), twin)
    return list(seen.values())


def pair_up(school: School, conn: RosterConnection, twins: list[RosterConnection], actor: Person | None
            ) -> RosterConnection:
    """Make the district's source from the school's just-saved connection and its twins (jobs.tenants.source_from),
    map each school to it as its own SIS school with its own sync settings, audit it and commit."""
    source = source_from(school.district, [conn, *twins])
    members = sorted([conn, *twins], key=lambda row: row.school.name)
    for member in members:
        attach(member.school, source, member.sis_school_id, automatic=member.automatic)
        why = SAVER_WHY if member is conn else TWIN_WHY
        AuditEvent.record(member.school, actor, "source_mapped",
                          PAIRED.format(source=source.name, sis_id=member.sis_school_id, why=why))
    nightly = f"nightly at {clock_text(source.sync_time)}" if source.automatic else "no nightly sync"
    schools = ", ".join(f"{m.school.name} as SIS school {m.sis_school_id}" for m in members)
    DistrictAuditEvent.record(school.district, actor, "source_shared",
                              f"{school.name} saved its own connection to the same SIS and credentials as "
                              f"{', '.join(t.school.name for t in twins)}, so the portal made the district source "
                              f"{source.name} ({source.url}, client id {source.client_id}; {nightly}) from them: "
                              f"{schools} now sync from it, each with its own sync settings.")
    db.session.commit()
    conn.paired_now = True  # joined_notice says why the school shares a connection it did not know of
    return conn


def _refused(school: School, actor: Person | None, detail: str) -> None:
    DistrictAuditEvent.record(school.district, actor, "source_join_refused", detail)
    db.session.commit()


def joined_notice(conn: RosterConnection) -> str:
    """What the owner reads once the school shares the district's source."""
    source = conn.source
    nights = (f"Nightly syncs run at the district's time, {clock_text(source.sync_time)}, while Automatic "
              "Rostering is on." if source.automatic else "The district connection's nightly syncs are off for now.")
    if getattr(conn, "paired_now", False):
        return (f"Your district already syncs this SIS for another school, so {conn.school.name} now shares one "
                f"district connection, \"{source.name}\", as SIS school {conn.sis_school_id}. Its settings ({KEPT}) "
                f"stay yours; your District Manager looks after the connection itself. {nights}")
    return (f"{conn.school.name} now uses the district's connection \"{source.name}\" as SIS school "
            f"{conn.sis_school_id}. Its settings ({KEPT}) stay yours; your District Manager looks after the "
            f"connection itself. {nights}")
