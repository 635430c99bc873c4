"""Plain form parsing for the Rostering page: the connection fields differ per vendor."""
from connectors.profiles import PROFILES, get_profile
from store.vocabulary import ROLE_TOGGLES, SYNC_TOGGLES, clock_text

MAX_VALUE = 4000  # longer than any real value; the profile reports "too long" with its own words
METHODS = (("oneroster", "OneRoster API"), ("oneroster_csv", "OneRoster CSV (SFTP or upload)"))


def vendor_choices() -> list[tuple[str, str]]:
    return [(key, profile.label) for key, profile in PROFILES.items()]


def chosen_vendor(source, default: str = "aeries") -> str:
    """The vendor named in a form or query string, or the default when unknown."""
    vendor = source.get("vendor", "")
    return vendor if vendor in PROFILES else default


def connection_values(source, vendor: str) -> dict[str, str]:
    """The vendor's fields as typed (the secret included; it is never rendered back)."""
    return {spec.name: str(source.get(spec.name, ""))[:MAX_VALUE] for spec in get_profile(vendor).form_fields}


def switched_vendor_values(args, vendor: str, saved_vendor: str | None) -> dict[str, str] | None:
    """The fields' values once the SIS select changes (#17.5): the saved ones (None) for the saved SIS, else the
    SIS's empty defaults, so nothing typed for another SIS carries over; with `prefill` (the Campus URL as typed)
    the typed values with App Name filled in. Never the secret."""
    if args.get("prefill"):
        values = get_profile(vendor).prefill(connection_values(args, vendor))
    elif saved_vendor == vendor:
        return None
    else:  # empty, with the vendor's own defaults (ClassLink's OAuth 1.0a)
        values = get_profile(vendor).prefill(connection_values({}, vendor))
    values.pop("client_secret", None)
    return values


def sync_settings_values(form) -> dict:
    """Checkbox and text values of the sync settings form (unchecked boxes are absent)."""
    values = {toggle.column: form.get(toggle.column) == "on" for toggle in SYNC_TOGGLES}
    values["automatic"] = form.get("automatic") == "on"
    values["sync_time"] = form.get("sync_time", "").strip()[:20]
    values["archive_threshold_percent"] = form.get("archive_threshold_percent", "").strip()[:100]  # over 20: refused
    return values


def role_rule_values(form) -> dict[str, set[str]] | None:
    """The per-role rules ticked on the sync settings form, as the roles each leaves alone; None when the form
    carried none (a client that posts only the toggles leaves the saved rules as they are)."""
    if form.get("role_rules") != "shown":
        return None
    roles = [toggle.role for toggle in ROLE_TOGGLES]
    return {"update_excluded": {r for r in roles if form.get(f"rule_update_{r}") != "on"},
            "archive_excluded": {r for r in roles if form.get(f"rule_archive_{r}") != "on"}}


def sync_time_choices(current: str = "") -> list[tuple[str, str]]:
    """Nightly times every quarter hour as (value "HH:MM", label "2:00 AM"); a saved off-grid time stays listed."""
    values = [f"{h:02d}:{m:02d}" for h in range(24) for m in (0, 15, 30, 45)]
    if current and current not in values:
        values = sorted(values + [current])
    return [(value, clock_text(value)) for value in values]


def settings_from_connection(conn) -> dict:
    """The sync settings form's values for a saved connection."""
    names = [toggle.column for toggle in SYNC_TOGGLES] + ["automatic", "sync_time"]
    values = {name: getattr(conn, name) for name in names}
    percent = conn.archive_threshold_percent
    values["archive_threshold_percent"] = f"{percent:g}" if percent is not None else ""
    return values
