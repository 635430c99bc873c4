"""connectors.csvbundle stays a pure package: importing it pulls in no web, database, jobs or portal code."""
import subprocess
import sys


def test_importing_the_csv_reader_loads_no_flask_sqlalchemy_jobs_or_portal():
    code = ("import sys, connectors.csvbundle; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'flask', 'sqlalchemy', 'jobs', 'portal', 'rq'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
