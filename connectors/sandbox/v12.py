"""The sandbox's OneRoster 1.2 view of its people: new sourcedIds, `roles[]`, `primaryOrg`, `userProfiles`.

A district that moves to 1.2 sees everyone under a new sourcedId (Infinite Campus: "sourcedIds are not backwards
compatible prior to 1.2", kb.infinitecampus.com/help/oneroster---whats-new-in-12); the Campus shape keeps the old
id in `metadata.ic.legacysourceId` as Campus does. Org (school) ids stay as they were, so a School ID still works.
"""
import uuid

from ..records import raw_role

DATA12 = "/ims/oneroster/rostering/v1p2/"
_NAMESPACE = uuid.UUID("6f1c2b7e-3d4a-4e5f-9a8b-0c1d2e3f4a5b")


def new_id(sid: str) -> str:
    """A person's 1.2 sourcedId: stable, and unlike any 1.1 id."""
    return str(uuid.uuid5(_NAMESPACE, sid))


def ref(kind: str, sourced_id: str) -> dict:
    collection = {"org": "orgs", "user": "users"}.get(kind, kind + "s")
    return {"href": f"/ims/oneroster/rostering/v1p2/{collection}/{sourced_id}", "sourcedId": sourced_id, "type": kind}


def to_v12(record: dict, vendor: str, district_id: str) -> dict:
    """One served 1.1 user as a 1.2 server sends it."""
    old = str(record["sourcedId"])
    role = raw_role(record)
    orgs = [o["sourcedId"] for o in record.get("orgs") or [] if isinstance(o, dict)]
    orgs += [r["org"]["sourcedId"] for r in record.get("roles") or []
             if isinstance(r, dict) and isinstance(r.get("org"), dict) and r["org"]["sourcedId"] not in orgs]
    orgs = orgs or [district_id]  # a 1.2 role names an org; guardians are placed at the district
    out = {k: v for k, v in record.items() if k not in ("role", "orgs", "roles", "roles12")}
    out["sourcedId"] = new_id(old)
    out["roles"] = [{"roleType": "primary" if n == 0 else "secondary", "role": role, "org": ref("org", org)}
                    for n, org in enumerate(orgs)]
    if record.get("roles12"):  # roles that differ by org, given by mutations.give_roles
        out["roles"] = [{**r, "org": ref("org", r["org"])} for r in record["roles12"]]
    out["primaryOrg"] = ref("org", orgs[0])
    out["agents"] = [ref("user", new_id(a["sourcedId"])) for a in record.get("agents") or [] if isinstance(a, dict)]
    if record.get("username"):
        out["userProfiles"] = [{"profileId": f"profile-{out['sourcedId']}", "profileType": "sandbox-portal",
                                "vendorId": "sandbox", "credentials": [{"type": "username",
                                                                        "username": record["username"]}]}]
    if vendor == "infinite-campus":
        out["metadata"] = {**(record.get("metadata") or {}), "ic.legacysourceId": old}
    return out
