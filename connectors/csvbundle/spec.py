"""Column names of the OneRoster CSV files a people sync reads, per version, as the specs spell them.

Sources (checked through the search tool):
- OneRoster 1.1 users.csv, column order and required columns: Great Minds, "OneRoster File Specifications:
  users.csv" (https://digitalsupport.greatminds.org/s/article/oneroster-file-specifications-users-csv) and
  PowerSchool Naviance "OneRoster users import fields"
  (https://ps.powerschool-docs.com/naviance/latest/oneroster-users-import-fields).
- OneRoster 1.1 manifest.csv (`propertyName,value`, `file.<name>` = absent | bulk | delta, "failure to provide a
  manifest file results in misleading import errors"): HMH, "OneRoster 1.1 manifest File"
  (http://downloads.hmlt.hmco.com/Help/ImportMngmt/Administrator/OneRoster_Template_Files/OneRoster_v1-1/
  OneRoster_1-1_manifest_File.htm); bulk rows leave status and dateLastModified blank, delta rows fill them:
  D2L, "CSV file format" (https://community.d2l.com/brightspace/kb/articles/5923-csv-file-format).
- OneRoster 1.2 CSV binding (https://www.imsglobal.org/spec/oneroster/v1p2/bind/csv/): users.csv loses `role` and
  `orgSourcedIds` to roles.csv and gains userMasterIdentifier, preferred names, primaryOrgSourcedId and pronouns;
  column lists as laid out by ManageBac's 1.2 CSV specification
  (https://guide.fariaedu.com/managebac-oneroster-custom-specification/csv_files/users and .../roles).
- orgs.csv (both versions: sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId): no page found
  through the search tool lists it verbatim; the list follows the 1.1 CSV specification as published by IMS.
"""

USERS_11 = ("sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role", "username",
            "userIds", "givenName", "familyName", "middleName", "identifier", "email", "sms", "phone",
            "agentSourcedIds", "grades", "password")
USERS_12 = ("sourcedId", "status", "dateLastModified", "enabledUser", "username", "userIds", "givenName",
            "familyName", "middleName", "identifier", "email", "sms", "phone", "agentSourcedIds", "grades",
            "password", "userMasterIdentifier", "resourceSourcedIds", "preferredGivenName", "preferredMiddleName",
            "preferredFamilyName", "primaryOrgSourcedId", "pronouns")
ROLES_12 = ("sourcedId", "status", "dateLastModified", "userSourcedId", "roleType", "role", "beginDate", "endDate",
            "orgSourcedId", "userProfileSourcedId")
ORGS = ("sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId")
MANIFEST = ("propertyName", "value")

# Columns without which a people sync cannot read the file (the others are read when present).
REQUIRED = {
    ("1.1", "users.csv"): ("sourcedId", "orgSourcedIds", "role", "givenName", "familyName"),
    ("1.2", "users.csv"): ("sourcedId", "givenName", "familyName"),
    ("1.2", "roles.csv"): ("userSourcedId", "role", "orgSourcedId"),
    ("1.1", "orgs.csv"): ("sourcedId", "name", "type"),
    ("1.2", "orgs.csv"): ("sourcedId", "name", "type"),
}
COLUMNS = {
    ("1.1", "users.csv"): USERS_11, ("1.2", "users.csv"): USERS_12, ("1.2", "roles.csv"): ROLES_12,
    ("1.1", "orgs.csv"): ORGS, ("1.2", "orgs.csv"): ORGS,
}
# How many characters of each users.csv value the portal keeps (the person table's columns; a test holds these equal
# to jobs.fields.LIMITS): a longer value is cut, so validation says so.
KEPT_CHARACTERS = {"givenName": 200, "familyName": 200, "middleName": 200, "email": 320, "username": 200,
                   "identifier": 200, "phone": 100}
# The files a people sync needs, per version; every other file of the bundle is optional and not read.
NEEDED = {"1.1": ("orgs.csv", "users.csv"), "1.2": ("orgs.csv", "users.csv", "roles.csv")}
# manifest `oneroster.version` values -> the version read; 1.0 manifests are read with the 1.1 columns.
VERSIONS = {"1.0": "1.1", "1.1": "1.1", "1.2": "1.2", "1.2.1": "1.2"}
MODES = ("bulk", "delta", "absent")
