"""The sentences the planner's issues say (a record is a PersonRecord or a held re-key; pure)."""


def who(record) -> str:
    """How an issue names an incoming person (built only for the rare record that gets one)."""
    name = " ".join(part for part in (record.given_name, record.family_name) if part)
    return f"{name} ({record.source_id})" if name else record.source_id


def duplicate_message(record, field_name: str, value: str, entry) -> str:
    notes = [n for n, on in (("archived", entry.status != "active"), ("added by hand", not entry.rostered)) if on]
    name = entry.name + (f" ({', '.join(notes)})" if notes else "")
    return (f"Possible duplicate: {who(record)} was not added because the {field_name} {value} already belongs to "
            f"{name} in People. If they are one person, the SIS has them twice; if not, fix the {field_name} in "
            "the SIS or in People, then sync again.")


def taken_message(record, email: str, account) -> str:
    at = f" at {account.elsewhere}" if account.elsewhere else ""
    return (f"{who(record)} was not updated: its new email {email} matches the sign-in account of {account.name}"
            f"{at}, and SIS data never gives anyone an address that signs in. Give the SIS record its own email, "
            "then sync again.")


def sign_in_message(record, email: str, account) -> str:
    start = (f"{who(record)} was neither added nor linked: its email {email} matches the sign-in account of "
             f"{account.name}")
    if account.elsewhere:
        return (f"{start} at {account.elsewhere}; SIS data never changes an account that can sign in, and People here "
                "cannot link an account of another school or district. If it is not them, give the SIS record its own "
                "email.")
    if account.district:
        return (f"{start}, a district manager. SIS data never changes an account that can sign in, and district "
                "managers are not added to a school's People. If it is not them, give the SIS record its own email.")
    if account.source_id is not None:
        return (f"{start}, which is already linked to SIS record {account.source_id}. If the SIS has this person "
                "twice, remove one of its records; if not, give this record its own email.")
    return (f"{start}, and SIS data never changes an account that can sign in. If they are the same person, link "
            f"it by hand in People (Link to SIS record, id {record.source_id}); if not, give the SIS record its own "
            "email.")
