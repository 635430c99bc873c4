"""The SFTP drop's throttle: five failures lock a user name for one address only, for the lockout period; one
address gets a bounded number of attempts a minute."""
from portal.sftp.throttle import Throttle


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_failures_lock_the_pair_only_and_expire():
    clock = Clock()
    throttle = Throttle(max_failures=3, lockout_seconds=900, per_address_per_minute=100, clock=clock)
    for _ in range(3):
        assert throttle.allowed("lincoln", "10.0.0.1")
        throttle.failed("lincoln", "10.0.0.1")
    assert not throttle.allowed("lincoln", "10.0.0.1")
    assert throttle.allowed("lincoln", "10.0.0.2")  # the real SIS elsewhere still signs in
    assert throttle.allowed("roosevelt", "10.0.0.1")
    clock.now += 901
    assert throttle.allowed("lincoln", "10.0.0.1")


def test_a_success_clears_the_failures():
    throttle = Throttle(max_failures=2, clock=Clock())
    throttle.failed("lincoln", "10.0.0.1")
    throttle.succeeded("lincoln", "10.0.0.1")
    throttle.failed("lincoln", "10.0.0.1")
    assert throttle.allowed("lincoln", "10.0.0.1")


def test_one_address_gets_a_bounded_number_of_attempts_a_minute():
    clock = Clock()
    throttle = Throttle(per_address_per_minute=3, clock=clock)
    assert [throttle.allowed(f"user{i}", "10.0.0.9") for i in range(4)] == [True, True, True, False]
    clock.now += 61
    assert throttle.allowed("user9", "10.0.0.9")


def test_old_entries_are_forgotten_once_many_addresses_were_seen(monkeypatch):
    from portal.sftp import throttle as module
    monkeypatch.setattr(module, "MAX_TRACKED", 10)
    clock = Clock()
    throttle = Throttle(clock=clock)
    for i in range(20):
        throttle.allowed("lincoln", f"10.0.1.{i}")
    clock.now += 61
    throttle.allowed("lincoln", "10.0.2.1")
    assert len(throttle._attempts) <= 11
