"""A district night's SIS read in a child process, so that decoding and routing run on two cores.

One process was bound by the GIL: sampled with py-spy, decoding pages was ~45% of the read and routing ~40%, and a
thread cannot overlap them. The child fetches, decodes, normalises and packs every page (connectors.district_read)
and hands the packed page to the parent, which files it under its schools.

Why a fresh interpreter (subprocess, `python -m connectors.reader_process`) and not multiprocessing: fork is unsafe
in a threaded process, and multiprocessing's spawn imports the parent's main module again in the child, which for
`python -m portal.worker` is the whole Flask app: measured 1.7-2.0 s per start against 0.2 s for this one.
The settings (with the secret) go through a pipe, never argv, the environment or a log. The pipe back is
bounded by the OS (a page at a time), so memory stays bounded whichever side is slower. The child exits as soon
as its parent's end of the pipe closes (the parent ended, failed, or was killed), and the parent never waits on
a dead child: its pipe closes and the read fails.
"""
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection

from .client import OneRosterClient
from .district_read import read_page
from .errors import ConnectorError
from .people import open_listing
from .read_ahead import read_ahead
from .redact import Redactor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IDLE_SECONDS = 5.0  # how often the parent checks on its lock and deadline while the child is quiet
# The portal's own secrets in its environment: the child reads the SIS only, so it gets none of them.
PRIVATE_ENV = ("DATABASE_URL", "REDIS_URL", "SECRET", "FERNET", "PASSWORD", "TOKEN", "MAIL_")


class ReadFailed(ConnectorError):
    """The child's read failed with a connector error (HTTP error, 429, time-out, bad page): its message, as is."""


class ReaderStopped(Exception):
    """The child crashed or died; `kind` says how, in place of an exception's class name."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


class ReaderProcess:
    """The parent's side: start the child with `spec`, read its messages, and stop it whatever happens."""

    def __init__(self, spec: dict, *, module: str = "connectors.reader_process"):
        self.spec, self.module = spec, module
        self.requests = 0
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "ReaderProcess":
        to_child_r, self._to_child = _pipe()
        self._from_child, from_child_w = _pipe()
        env = {k: v for k, v in os.environ.items() if not any(word in k.upper() for word in PRIVATE_ENV)}
        try:
            self.proc = subprocess.Popen([sys.executable, "-m", self.module, str(to_child_r.fileno()),
                                          str(from_child_w.fileno())], pass_fds=(to_child_r.fileno(),
                                                                                 from_child_w.fileno()),
                                         cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        finally:
            to_child_r.close()  # only the child holds these ends now: its death closes the pipe back
            from_child_w.close()
        try:
            self._to_child.send_bytes(pickle.dumps(self.spec))
        except OSError:
            pass  # it died at once: messages() says so
        return self

    def messages(self, idle: Callable[[], None]) -> Iterator[tuple]:
        """("page", records, payloads, heads) per page (connectors.district_read.read_page's), in order, and
        ("unfiltered", roles, path, why) before the pages of a listing read without the delta filter, until the read
        is complete. `idle` runs every IDLE_SECONDS while the child is quiet (it may raise to give up). Raises
        ReadFailed or ReaderStopped."""
        conn = self._from_child
        while True:
            while not conn.poll(IDLE_SECONDS):
                idle()
            try:
                message = pickle.loads(conn.recv_bytes())
            except EOFError:
                raise ReaderStopped(self._ended()) from None
            kind = message[0]
            if kind == "page":
                self.requests = message[2]
                yield message[0], message[1], message[3], message[4]
            elif kind == "unfiltered":  # (kind, the step's roles, the listing's path, why it was read in full)
                yield message
            elif kind == "done":
                self.requests = message[1]
                return
            elif kind == "failed":
                raise ReadFailed(message[1])
            else:  # "crashed": the child's unforeseen exception, already redacted
                raise ReaderStopped(message[1])

    def _ended(self) -> str:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "the SIS reader process stopped answering"
        if code < 0:
            return f"the SIS reader process was killed by {signal.Signals(-code).name}"
        return f"the SIS reader process ended with exit code {code}"

    def __exit__(self, *exc) -> None:
        self._to_child.close()  # the child's watch sees the end of its pipe and exits
        try:
            if self.proc is not None:
                try:
                    self.proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        finally:
            self._from_child.close()


def _pipe() -> tuple[Connection, Connection]:
    """(read end, write end) of an OS pipe, each non-inheritable (PEP 446) until passed on explicitly."""
    read_fd, write_fd = os.pipe()
    return Connection(read_fd, writable=False), Connection(write_fd, readable=False)


# ---- the child -------------------------------------------------------------------------------------------------
def main(argv: list[str]) -> int:
    inbox, outbox = Connection(int(argv[1]), writable=False), Connection(int(argv[2]), readable=False)
    spec = pickle.loads(inbox.recv_bytes())
    threading.Thread(target=_exit_with_parent, args=(inbox,), name="parent-watch", daemon=True).start()
    send, redactor = outbox.send_bytes, Redactor()
    try:
        with OneRosterClient(spec["settings"], policy=spec["policy"], redactor=redactor,
                             **spec.get("client", {})) as client:
            if spec.get("seconds_left") is not None:  # the night's time limit, as time left: clocks differ by process
                client.bound_waits(time.monotonic() + spec["seconds_left"])
            client.authenticate()
            for step in spec["steps"]:
                listing = open_listing(client, step, filter=spec["filter"])
                if listing.unfiltered:  # read in full: each school of the night says so, as its own sync does
                    send(pickle.dumps(("unfiltered", step.roles, listing.path, listing.unfiltered)))
                for page in read_ahead(listing.pages()):
                    payloads, heads = read_page(page, step.roles, spec["parents"])
                    send(pickle.dumps(("page", len(page), client.request_count, payloads, heads), protocol=5))
            send(pickle.dumps(("done", client.request_count)))
    except BrokenPipeError:
        return 0  # the parent stopped listening (it ended or died): nobody wants the rest
    except ConnectorError as exc:
        send(pickle.dumps(("failed", redactor(str(exc)))))
    except Exception as exc:  # noqa: BLE001 - the parent fails the night with its name
        sys.stderr.write(redactor(traceback.format_exc()))
        send(pickle.dumps(("crashed", type(exc).__name__)))
    return 0


def _exit_with_parent(inbox: Connection) -> None:
    """The parent closes its end when the read is over or abandoned, and the OS closes it when the parent dies
    (killed, timed out, cancelled): either way nobody wants the rest, so stop at once, even mid-request."""
    try:
        while True:
            inbox.recv_bytes()
    except (EOFError, OSError):
        os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
