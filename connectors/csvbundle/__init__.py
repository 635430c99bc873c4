"""OneRoster CSV bundles (zip or directory): hostile-file defences, validation that says what to fix, and the
same PersonRecord/RecordProblem pages as the API reader. No Flask, database, jobs or portal imports."""
from .archive import Limits
from .errors import BundleInvalid, BundleRefused
from .reader import CsvBundle, open_bundle
from .report import ERROR, WARNING, Problem, Report

__all__ = ["CsvBundle", "open_bundle", "Limits", "BundleInvalid", "BundleRefused", "Problem", "Report", "ERROR",
           "WARNING"]
