"""Wrong SFTP credentials, throttled in the server process: the sign-in rules of the web page (portal/auth/throttle.py)
applied per connection attempt. Five failures lock that user name for the address they came from only, so nobody
elsewhere can lock a school's SIS out; one address gets a bounded number of attempts a minute."""
import time
from collections import defaultdict, deque

MAX_TRACKED = 10_000


class Throttle:
    def __init__(self, max_failures: int = 5, lockout_seconds: float = 900, per_address_per_minute: int = 20,
                 clock=time.monotonic):
        self.max_failures = max_failures
        self.lockout_seconds = lockout_seconds
        self.per_address_per_minute = per_address_per_minute
        self.clock = clock
        self._failures: dict[tuple[str, str], deque] = defaultdict(deque)
        self._attempts: dict[str, deque] = defaultdict(deque)

    @staticmethod
    def _trim(times: deque, since: float) -> deque:
        while times and times[0] < since:
            times.popleft()
        return times

    def allowed(self, username: str, address: str) -> bool:
        """Count one attempt; False while this user name is locked for this address or the address is too busy."""
        now = self.clock()
        if len(self._attempts) + len(self._failures) > MAX_TRACKED:
            self._forget_old(now)
        attempts = self._trim(self._attempts[address], now - 60)
        attempts.append(now)
        failures = self._trim(self._failures[(username, address)], now - self.lockout_seconds)
        return len(attempts) <= self.per_address_per_minute and len(failures) < self.max_failures

    def _forget_old(self, now: float) -> None:
        """A scan from many addresses must not grow memory without end: drop what no longer counts."""
        self._attempts = defaultdict(deque, {k: v for k, v in self._attempts.items() if self._trim(v, now - 60)})
        self._failures = defaultdict(deque, {k: v for k, v in self._failures.items()
                                             if self._trim(v, now - self.lockout_seconds)})

    def failed(self, username: str, address: str) -> None:
        self._failures[(username, address)].append(self.clock())

    def succeeded(self, username: str, address: str) -> None:
        self._failures.pop((username, address), None)
