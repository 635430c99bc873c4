"""Locust users for `make load`: owners browsing People Manager while watching a sync's progress.

Run by benchmarks/load_test.py, which passes the school and the accounts in LOAD_* variables (LOAD_SLUG,
LOAD_EMAIL with {n}, LOAD_PASSWORD, LOAD_PAGES, LOAD_STATS_PATH) and writes the run id to LOAD_RUN_FILE once
it presses Sync now. Users sign in and browse until then; the figures are reset at that moment, so they
cover the sync only.
"""
import itertools
import json
import os
import random
import re

from locust import HttpUser, constant_pacing, events, task

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
ROLES = ("student", "teacher", "staff", "school_admin")
SEARCHES = ("smith", "garc", "nguy", "ann", "patel", "o'brien", "lee", "van der", "12", "4071")
PEOPLE_EVERY = 3  # one People request every third tick: a person reads a page for a few seconds
_accounts = itertools.count()
_sync_seen = False  # per locust process: the first user to see the run id resets the figures


class Owner(HttpUser):
    """One signed-in owner with its own session: polls the run's progress every second, like the page does."""

    wait_time = constant_pacing(1.0)

    def on_start(self):
        self.n = next(_accounts)
        self.slug, self.run_id = os.environ["LOAD_SLUG"], None
        self.pages = int(os.environ.get("LOAD_PAGES", "2000"))
        self.ticks, self.polling = 0, True
        self.sign_in(os.environ["LOAD_EMAIL"].format(n=self.n), os.environ["LOAD_PASSWORD"])

    def sign_in(self, email: str, password: str) -> None:
        """Fetch the form for its CSRF token, then post it; a signed-in POST answers 302."""
        page = self.client.get("/login", name="sign in: form")
        token = CSRF_RE.search(page.text or "")
        with self.client.post("/login", data={"csrf_token": token.group(1) if token else "", "email": email,
                                              "password": password}, name="sign in: post",
                              allow_redirects=False, catch_response=True) as reply:
            if reply.status_code != 302:
                reply.failure(f"sign-in answered {reply.status_code}, not 302")

    @task
    def tick(self):
        if self.run_id is None:
            self.run_id = self.sync_started()
        if self.run_id is not None and self.polling:
            self.poll_progress()
        if self.ticks % PEOPLE_EVERY == self.n % PEOPLE_EVERY:  # spread users' People requests over ticks
            random.choice((self.people_page, self.people_table, self.people_search))()
        self.ticks += 1

    def sync_started(self) -> str | None:
        """The run id once load_test.py has pressed Sync now; the first user to see it resets the figures."""
        global _sync_seen
        try:
            with open(os.environ["LOAD_RUN_FILE"], encoding="utf-8") as run_file:
                run_id = run_file.read().strip() or None
        except FileNotFoundError:
            return None
        if run_id and not _sync_seen:
            _sync_seen = True
            self.environment.stats.reset_all()
        return run_id

    def poll_progress(self):
        """The run progress partial; a final fragment has no `every 1s` trigger, so the page stops polling."""
        path = f"/schools/{self.slug}/rostering/runs/{self.run_id}/progress"
        with self.client.get(path, name="run progress (htmx)", catch_response=True,
                             headers={"HX-Request": "true", "HX-Target": "run-progress"}) as reply:
            if reply.status_code == 200 and 'id="run-progress"' in reply.text:
                self.polling = 'hx-trigger="every 1s"' in reply.text
                reply.success()
            else:
                reply.failure(_why(reply, "the progress fragment"))

    def people_page(self):
        self._people({"page": random.randint(1, self.pages)}, "people page (full)", htmx=False)

    def people_table(self):
        params = {"page": random.randint(1, max(1, self.pages // 10)), "role": random.choice(ROLES)}
        self._people(params, "people table: role + page (htmx)", htmx=True)

    def people_search(self):
        params = {"q": random.choice(SEARCHES), "role": random.choice(("",) + ROLES)}
        self._people(params, "people table: search (htmx)", htmx=True)

    def _people(self, params: dict, name: str, *, htmx: bool) -> None:
        headers = {"HX-Request": "true", "HX-Target": "people-table"} if htmx else {}
        with self.client.get(f"/schools/{self.slug}/people", params=params, headers=headers, name=name,
                             catch_response=True) as reply:
            wanted = 'id="people-count"' in reply.text and (htmx or "<html" in reply.text)
            if reply.status_code == 200 and wanted:
                reply.success()
            else:
                reply.failure(_why(reply, "the people table"))


def _why(reply, wanted: str) -> str:
    """Status 0 is no answer at all: name the exception instead."""
    if reply.status_code == 0:
        return f"no answer: {type(reply.error).__name__}: {reply.error}"
    return f"answered {reply.status_code} without {wanted}"


@events.quitting.add_listener
def save_stats(environment, **_):
    """Write per-request figures as JSON for load_test.py, which prints the report."""
    path = os.environ.get("LOAD_STATS_PATH")
    if not path:
        return
    entries = list(environment.stats.entries.values()) + [environment.stats.total]
    rows = [{"name": e.name if e is not environment.stats.total else "all requests", "count": e.num_requests,
             "failures": e.num_failures, "p50_ms": e.get_response_time_percentile(0.5),
             "p95_ms": e.get_response_time_percentile(0.95), "p99_ms": e.get_response_time_percentile(0.99),
             "max_ms": round(e.max_response_time or 0), "rps": round(e.total_rps, 2)} for e in entries]
    errors = [{"name": e.name, "error": str(e.error), "occurrences": e.occurrences}
              for e in environment.stats.errors.values()]
    with open(path, "w", encoding="utf-8") as out:
        json.dump({"requests": rows, "errors": errors}, out, indent=2)
