"""Imports point one way, portal -> jobs -> store / connectors: each module imported alone, in a fresh process.

A module of jobs/ never loads portal; a module of connectors/ loads none of portal, jobs, store, Flask or
SQLAlchemy; the planner loads neither Flask nor SQLAlchemy (data in, plan out).
"""
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBE = "import importlib, json, sys; importlib.import_module(sys.argv[1]); print(json.dumps(sorted(sys.modules)))"
WEB_AND_DATABASE = {"flask", "flask_sqlalchemy", "sqlalchemy"}


def modules_of(package: str) -> list[str]:
    """Every module of a package by dotted name (not `__main__`: importing it would start a server)."""
    names = []
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__main__":
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _packages_loaded(module: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, module], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, f"importing {module} alone failed:\n{done.stderr}"
    return {name.split(".")[0] for name in json.loads(done.stdout)}


JOBS, CONNECTORS = modules_of("jobs"), modules_of("connectors")


@pytest.fixture(scope="module")
def loaded():
    """Top-level packages each module loads when imported alone (fresh interpreters, a few at a time)."""
    names = sorted(set(JOBS + CONNECTORS))
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(names, pool.map(_packages_loaded, names)))


def test_every_package_is_found():
    assert "jobs.sync" in JOBS and "jobs.plan" in JOBS and "connectors.client" in CONNECTORS
    assert not (ROOT / "jobs" / "context.py").exists()  # jobs never build the app; the worker entry does


@pytest.mark.parametrize("module", JOBS)
def test_a_job_module_loads_no_portal_module(loaded, module):
    assert "portal" not in loaded[module], f"{module} imports the web app"


@pytest.mark.parametrize("module", CONNECTORS)
def test_a_connector_module_loads_neither_the_app_nor_the_database(loaded, module):
    assert not loaded[module] & ({"portal", "jobs", "store"} | WEB_AND_DATABASE), \
        f"{module} loads {sorted(loaded[module] & ({'portal', 'jobs', 'store'} | WEB_AND_DATABASE))}"


def test_the_planner_loads_neither_flask_nor_sqlalchemy(loaded):
    assert not loaded["jobs.plan"] & WEB_AND_DATABASE, \
        f"jobs.plan loads {sorted(loaded['jobs.plan'] & WEB_AND_DATABASE)}"
