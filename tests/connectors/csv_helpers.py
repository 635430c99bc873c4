"""Small OneRoster CSV bundles built in the tests (zip or folder), row by row."""
import io
import zipfile

USERS_HEADER = ("sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,"
                "familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password")
ORGS_HEADER = "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId"
MANIFEST_11 = "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\nfile.orgs,bulk\nfile.users,bulk\n"
ORGS = ORGS_HEADER + "\nd1,,,North District,district,,\ns1,,,North High,school,994,d1\ns2,,,South High,school,995,d1\n"


def user_row(sid, role="student", org="s1", given="Zoe", family="Smith", agents="", **extra) -> str:
    values = {"sourcedId": sid, "status": "", "dateLastModified": "", "enabledUser": "true", "orgSourcedIds": org,
              "role": role, "username": sid, "userIds": "", "givenName": given, "familyName": family,
              "middleName": "", "identifier": "", "email": f"{sid}@example.org", "sms": "", "phone": "",
              "agentSourcedIds": agents, "grades": "", "password": ""}
    values.update(extra)
    return ",".join(_quote(values[c]) for c in USERS_HEADER.split(","))


def _quote(value: str) -> str:
    return f'"{value}"' if ("," in value or "\n" in value) and not value.startswith('"') else value


def users(*rows: str, header: str = USERS_HEADER) -> str:
    return "\n".join((header,) + rows) + "\n"


DEFAULT = object()


def bundle_files(users_csv=DEFAULT, **files) -> dict:
    """manifest.csv, orgs.csv and users.csv (one student by default); keyword files add or replace (None drops)."""
    out = {"manifest.csv": MANIFEST_11, "orgs.csv": ORGS,
           "users.csv": users(user_row("u1")) if users_csv is DEFAULT else users_csv}
    if out["users.csv"] is None:
        del out["users.csv"]
    for name, content in files.items():
        name = name.replace("_csv", ".csv")
        if content is None:
            out.pop(name, None)
        else:
            out[name] = content
    return out


def write_zip(path, files: dict) -> str:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            zf.writestr(name, content.encode("utf-8") if isinstance(content, str) else content)
    return str(path)


def write_dir(path, files: dict) -> str:
    path.mkdir()
    for name, content in files.items():
        (path / name).write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return str(path)


def zip_bytes(files: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return buf.getvalue()


def texts(report) -> list[str]:
    return [p.text for p in report.all()]
