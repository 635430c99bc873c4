"""HTTP with time-outs, bounded retries (429/5xx/network), a size cap and a request count."""
import random
import threading
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.structures import CaseInsensitiveDict
from requests.utils import parse_header_links

from .errors import BadResponse, ProviderUnavailable
from .imsx import describe_body
from .redact import Redactor

MAX_PAGE_BYTES = 50 * 1024 * 1024
# Retry-After (delay-seconds or an HTTP-date; developer.mozilla.org/docs/Web/HTTP/Headers/Retry-After, RFC 9110
# "field.retry-after") is honoured on 429 and 5xx up to this; cut to 60 s, a SIS asking for 3 minutes was hit
# again too early, refused again, and the night failed. A longer ask fails the run at once, readably.
RETRY_AFTER_MAX = 240.0
# A long wait is slept in slices with `keepalive` between them (the job renews its lock and heartbeat there).
WAIT_SLICE = 20.0
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
# Each back-off is drawn between half and all of its step ("equal jitter"): ClassLink "strongly recommends
# implementing exponential backoff with jitter" for 5xx and 429 (developer.classlink.com/reference/
# oneroster-api-request-limits); without it the schools that sync from one SIS at 2:00 retried in the same instants.
# One answer's whole body must arrive within this: the read time-out bounds each wait for bytes, not their sum, so a
# SIS trickling a byte every few seconds held a sync (and its lock) until the worker was killed hours later.
MAX_BODY_SECONDS = 300.0


def public_url(url: str) -> str:
    """The URL without its query string (which may carry signatures or filters) for messages."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


@dataclass
class Reply:
    """A finished HTTP exchange: status, headers and the whole (capped) body."""

    status: int
    headers: CaseInsensitiveDict
    body: bytes
    url: str

    @property
    def shown_url(self) -> str:
        return public_url(self.url)

    def links(self) -> dict[str, str]:
        """Link header targets by rel (rel="next" etc.)."""
        value = self.headers.get("Link", "")
        result = {}
        for link in parse_header_links(value) if value else []:
            for rel in link.get("rel", "").split():
                result.setdefault(rel.lower(), link.get("url", ""))
        return result


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds (delta or HTTP date), None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return None


class Transport:
    """Sends requests on one Session; retries what is worth retrying and gives up with a clear error."""

    def __init__(self, session: requests.Session, *, timeout=(5, 30), max_retries=4, sleep=time.sleep,
                 max_bytes=MAX_PAGE_BYTES, deadline: float | None = None, clock=time.monotonic,
                 redactor: Redactor | None = None, max_body_seconds: float = MAX_BODY_SECONDS, jitter=random.random,
                 keepalive=None):
        self.session = session
        self.keepalive = keepalive  # called between slices of a long wait; may raise to give up
        self.wait_deadline: float | None = None  # no wait may end after this (a run's time limit); requests may
        self.jitter = jitter
        self.max_body_seconds = max_body_seconds
        self.redactor = redactor or Redactor()  # masks credentials an SIS echoes, before any text is cut short
        self.timeout = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        self.max_retries = max_retries
        self.sleep = sleep
        self.max_bytes = max_bytes
        self.deadline = deadline
        self.clock = clock
        self.request_count = 0

    def _remaining(self, url: str) -> float | None:
        if self.deadline is None:
            return None
        remaining = self.deadline - self.clock()
        if remaining <= 0:
            raise ProviderUnavailable(f"Timed out: the SIS did not finish answering in time ({public_url(url)}); "
                                      "it may be overloaded. Try again later.", url=public_url(url))
        return remaining

    def _wait(self, delay: float, url: str, asked: Reply | None = None) -> None:
        """Sleep `delay` (in slices, keeping the job alive), unless it would end past the deadline. `asked`: the
        reply whose Retry-After set the delay, named in the message."""
        remaining = self._remaining(url)
        if self.wait_deadline is not None:
            left = self.wait_deadline - self.clock()
            remaining = left if remaining is None else min(remaining, left)
        if remaining is not None and delay >= remaining:
            if asked is not None:
                left = _duration(max(0.0, remaining))
                raise ProviderUnavailable(f"{_asked_to_wait(asked, delay)}, but this must finish within {left} from "
                                          f"now, so the portal stopped. {_RATE_LIMIT_HINT}",
                                          status=asked.status, url=asked.shown_url)
            raise ProviderUnavailable(f"Timed out: the SIS asked us to wait longer than the time left ({public_url(url)}). "
                                      "Try again later.", url=public_url(url))
        while delay > 0:
            step = min(delay, WAIT_SLICE) if self.keepalive else delay
            self.sleep(step)
            delay -= step
            if self.keepalive:
                self.keepalive()

    def _asked_delay(self, reply: Reply) -> float | None:
        """The reply's Retry-After in seconds (None without one); raises when it is longer than the portal waits."""
        wait = retry_after_seconds(reply.headers.get("Retry-After"))
        if wait is not None and wait > RETRY_AFTER_MAX:
            raise ProviderUnavailable(f"{_asked_to_wait(reply, wait)}, longer than the {_duration(RETRY_AFTER_MAX)} "
                                      f"the portal waits, so it stopped. {_RATE_LIMIT_HINT}",
                                      status=reply.status, url=reply.shown_url)
        return wait

    def send(self, method: str, url: str, **kwargs) -> Reply:
        """One logical request; returns any non-retryable reply, raises after the retries run out."""
        failure, asked = "", None
        for attempt in range(self.max_retries + 1):
            if attempt:
                self._wait(delay, url, asked)
            remaining = self._remaining(url)
            timeout = self.timeout if remaining is None else tuple(min(t, remaining) for t in self.timeout)
            delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempt) * (0.5 + 0.5 * self.jitter())
            try:
                reply = self._exchange(method, url, timeout, kwargs, remaining)
            except _TooSlow as slow:
                raise ProviderUnavailable(f"Timed out: the SIS took more than {slow.seconds:g} "
                                          f"second{'' if slow.seconds == 1 else 's'} to send one answer ({public_url(url)}), so the portal stopped reading it. Try again "
                                          "later; if it keeps happening, ask the SIS vendor why this request is so "
                                          "slow, or for smaller pages.", url=public_url(url)) from None
            except requests.exceptions.Timeout:
                failure = f"did not answer within {timeout[1]:g} seconds"
                continue
            except requests.exceptions.SSLError:
                raise ProviderUnavailable(f"The SIS at {urlsplit(url).netloc} has a certificate that could not be "
                                          "verified; ask the district's IT to fix the server's HTTPS certificate.",
                                          url=public_url(url)) from None
            except requests.exceptions.ChunkedEncodingError:
                failure = "cut off"
                continue
            except requests.exceptions.ContentDecodingError:
                failure = "undecodable"  # a compressed body cut short or garbled on the way: worth another try
                continue
            except requests.exceptions.ConnectionError as exc:
                failure = "dropped" if _dropped(exc) else f"could not be reached ({_reason(exc)})"
                continue
            except requests.exceptions.TooManyRedirects:
                raise BadResponse(f"The SIS at {urlsplit(url).netloc} kept redirecting the request for "
                                  f"{public_url(url)} without ever answering it; this usually means the URL leads "
                                  "to a sign-in page or to an address that has moved. Check the URL with the SIS "
                                  "vendor.", url=public_url(url)) from None
            except requests.exceptions.RequestException as exc:
                # Anything else requests refuses (an unreadable redirect target, a malformed header) is the SIS's
                # answer being unusable: a named error, not a sync that "stopped unexpectedly".
                raise BadResponse(f"The SIS's answer from {public_url(url)} could not be read "
                                  f"({type(exc).__name__}); ask the SIS vendor to check this endpoint.",
                                  url=public_url(url)) from None
            if reply.status == 429 or (reply.status >= 500 and reply.status != 501):
                wait = self._asked_delay(reply)
                delay, asked = (wait, reply) if wait is not None else (delay, None)
                failure = "busy" if reply.status == 429 else "error"
                last = reply
                continue
            return reply
        shown = public_url(url)
        # plain words, never "(2 tries)" nor "1 times"
        tries = f"the portal tried {self.max_retries + 1} times" if self.max_retries else "the portal tried once"
        if failure == "busy":
            raise ProviderUnavailable(f"The SIS kept answering 'too busy' (HTTP 429 on {shown}); {tries}. "
                                      "Try again later; if it keeps happening ask the SIS vendor about "
                                      "rate limits.", status=429, url=shown)
        if failure == "error":
            said = describe_body(last.body, last.headers.get("Content-Type", ""))
            raise ProviderUnavailable(f"The SIS had a server error (HTTP {last.status} on {shown}); "
                                      f"{tries}. {said + ' ' if said else ''}Try again later; if it persists, "
                                      "send this message to the SIS vendor's support.",
                                      status=last.status, url=shown)
        if failure == "undecodable":
            raise BadResponse(f"The SIS's response from {shown} was compressed, but it could not be decompressed; "
                              f"{tries}. Try again later; if it persists, ask the SIS vendor to check the "
                              "server's compression (Content-Encoding).", url=shown)
        if failure == "cut off":
            raise BadResponse(f"The SIS's response from {shown} was cut off before the end; {tries}. "
                              "Try again later; if it persists, ask the SIS vendor to check their server.",
                              url=shown)
        if failure.startswith("did not answer"):
            raise ProviderUnavailable(f"Timed out: the SIS {failure} ({shown}); {tries}, and it may be overloaded. "
                                      "Try again later; if it keeps happening, ask the SIS vendor why this "
                                      "request is so slow.", url=shown)
        if failure == "dropped":
            raise ProviderUnavailable(f"The SIS dropped the connection before answering ({shown}, connection "
                                      f"reset); {tries}. Try again later; if it persists, ask the district's IT "
                                      "or the SIS vendor to check the server and any firewall in front of it.",
                                      url=shown)
        raise ProviderUnavailable(f"The SIS at {urlsplit(url).netloc} {failure}; {tries}. Check the URL and "
                                  "that the server is reachable from the internet.", url=shown)

    def _exchange(self, method, url, timeout, kwargs, remaining: float | None = None) -> Reply:
        self.request_count += 1
        with self.session.request(method, url, timeout=timeout, stream=True, **kwargs) as resp:
            length = resp.headers.get("Content-Length", "").strip()
            if length.isascii() and length.isdigit() and (len(length) > 18 or int(length) > self.max_bytes):
                raise self._too_big(url)
            seconds = self.max_body_seconds if remaining is None else min(self.max_body_seconds, remaining)
            watchdog = _Watchdog(resp, seconds)
            body = bytearray()
            try:
                for chunk in resp.iter_content(chunk_size=1 << 16):
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise self._too_big(url)
            except requests.exceptions.RequestException:
                if watchdog.stop():  # the read was cut by the watchdog, not by the SIS
                    raise _TooSlow(seconds) from None
                raise
            finally:
                fired = watchdog.stop()
            if fired:  # cut while reading: what arrived may be a short body that parses
                raise _TooSlow(seconds)
            return Reply(resp.status_code, resp.headers, self.redactor.scrub_bytes(bytes(body)), resp.url)

    def _too_big(self, url: str) -> BadResponse:
        size = self.max_bytes // (1024 * 1024)
        return BadResponse(f"The SIS sent more than {size} MB in one page ({public_url(url)}); ask for "
                           "smaller pages or ask the SIS vendor why the page is so large.", url=public_url(url))


class _TooSlow(Exception):
    """The body did not arrive within the time allowed for one answer."""

    def __init__(self, seconds: float):
        super().__init__(seconds)
        self.seconds = seconds


class _Watchdog:
    """Stops reading one response after `seconds`, waking a read blocked on a trickling SIS with urllib3's
    HTTPResponse.shutdown (meant to be called from another thread); stop() says whether it did."""

    def __init__(self, resp, seconds: float):
        self.resp, self.lock, self.done, self.fired = resp, threading.Lock(), False, False
        self.timer = threading.Timer(seconds, self._fire)
        self.timer.daemon = True
        self.timer.start()

    def _fire(self) -> None:
        with self.lock:
            if self.done:
                return
            self.fired = True
        try:
            self.resp.raw.shutdown()
        except (AttributeError, RuntimeError, ValueError, OSError):
            pass

    def stop(self) -> bool:
        with self.lock:
            self.done = True
        self.timer.cancel()
        return self.fired


_RATE_LIMIT_HINT = ("Try again later; if it keeps happening, ask the SIS vendor about the rate limits for this "
                    "client.")


def _asked_to_wait(reply: Reply, seconds: float) -> str:
    said = "'too busy' (HTTP 429" if reply.status == 429 else f"unavailable (HTTP {reply.status}"
    return f"The SIS answered {said} on {reply.shown_url}) and asked the portal to wait {_duration(seconds)} " \
           "before trying again"


def _duration(seconds: float) -> str:
    """Plain words for a wait: "45 seconds", "3 minutes", "2 hours"."""
    whole = max(1, round(seconds))
    if whole < 120:
        return f"{whole} second{'' if whole == 1 else 's'}"
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"{minutes} minutes"
    return f"{round(minutes / 60):,} hours"


def _dropped(exc: Exception) -> bool:
    """True when a connection was made and then reset or closed by the server (not an unreachable host)."""
    text = str(exc).lower()
    return any(hint in text for hint in ("connection aborted", "connection reset", "remotedisconnected",
                                         "remote end closed"))


def _reason(exc: Exception) -> str:
    text = str(exc)
    for hint in ("Name or service not known", "nodename nor servname", "Connection refused",
                 "certificate verify failed", "Connection reset", "timed out", "Temporary failure"):
        if hint.lower() in text.lower():
            return hint.lower()
    return type(exc).__name__
