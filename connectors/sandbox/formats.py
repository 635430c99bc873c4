"""The sandbox's "vendor formats" switch: the same people, written the ways real SIS servers write them."""
import zlib
from datetime import datetime, timedelta, timezone

from ..records import parse_datetime

UNREADABLE_DATE = "09/21/2017"  # US-style date: no ISO parser reads it


def _variant(sid: str) -> int:
    return zlib.crc32(sid.encode()) % 6


def _enabled(value, variant: int):
    on = str(value).strip().lower() not in ("false", "0")
    return (("True", "TRUE", "1", True, "true", "True") if on else ("False", "FALSE", "0", False, "false", "0"))[variant]


def _date(value: str, variant: int) -> str:
    moment = parse_datetime(value) or datetime(2025, 6, 1, tzinfo=timezone.utc)
    if variant == 0:
        return moment.strftime("%Y-%m-%d %H:%M:%S")  # space instead of T, no offset (UTC)
    if variant == 1:
        return (moment - timedelta(hours=7)).strftime("%Y-%m-%dT%H:%M:%S.000") + "-7"  # one-digit offset
    if variant == 2:
        return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    if variant == 3:
        return moment.strftime("%Y-%m-%d")  # date only
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def restyle(record: dict, unreadable: bool = False) -> dict:
    """One user record as some vendor sends it (the meaning unchanged, except a date-only date)."""
    sid = str(record["sourcedId"])
    variant = _variant(sid)
    out = dict(record)
    out["dateLastModified"] = UNREADABLE_DATE if unreadable else _date(record["dateLastModified"], variant)
    out["enabledUser"] = _enabled(record["enabledUser"], variant)
    role = record["role"]
    out["role"] = (role.capitalize(), role.upper(), role, role.title(), role, role)[variant]
    if variant == 1:
        out.pop("status", None)  # status missing (the record is active)
    if variant == 2:
        out.update({k: None for k in ("sms", "password") if not record.get(k)})  # null where a string goes
        out["metadata"] = {"vendor.extension": {"homeroom": "12B"}, "ic.stateID": f"state-{sid}"}  # legacysourceId: v12
    if variant == 4:
        del out["role"]  # 1.2-style roles[] at a 1.1 path
        org = record["orgs"][0] if record["orgs"] else None
        out["roles"] = [{"roleType": "primary", "role": role, **({"org": org} if org else {})}]
    if variant == 5:
        out = {k: v for k, v in out.items() if v not in ("", [], None)}  # empty fields left out
    return out


def date_only(sid: str) -> bool:
    """True when restyle() writes this person's date without a time (it then reads as midnight UTC)."""
    return _variant(sid) == 3
