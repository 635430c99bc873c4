"""OneRoster CSV bundles (a zip or a directory): hostile-file defences, validation that says what to fix, and the
same PersonRecord/RecordProblem pages as the API reader. No Flask, database, jobs or portal imports.

    with open_bundle(path) as bundle:              # BundleRefused: unsafe or unreadable archive
        report = bundle.validate()                 # Report: applicable, errors, warnings, csv_rows()
        bundle.full                                # bulk users.csv: people absent from it have left
        for page in bundle.iter_roster(school_sis_id, roles):   # parents first; read once for all roles
            planner.add_page(page)                 # BundleInvalid after the last page if errors were found
    keep_records(pages, file, about) / kept_pages(file, about)   # validated records kept for a later run
    keep_columns(bundle.iter_roster(school_sis_id, roles, parents_first=False, columns=True), file, about)  # same
"""
from .archive import Limits
from .errors import BundleInvalid, BundleRefused
from .reader import CsvBundle, open_bundle
from .report import ERROR, WARNING, Problem, Report
from .spool import keep_columns, keep_records, kept_pages

__all__ = ["CsvBundle", "open_bundle", "Limits", "BundleInvalid", "BundleRefused", "Problem", "Report", "ERROR",
           "WARNING", "keep_columns", "keep_records", "kept_pages"]
