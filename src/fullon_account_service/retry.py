"""The one retry policy of every loop that retries, built at start-up and injected.

A ``RetryPolicy`` says how long to wait after the n-th consecutive failure and how many tries a
bounded retry gets; ``policy.start()`` gives a loop its own run of ``Attempts`` (reset on
success). ``RetryPolicies`` holds the four uses, built once from ``Settings``:

- ``venue``: a venue session that cannot start, a stream that dropped, a REST cycle that failed,
  a collector loop that crashed (``ACCOUNT_RECONNECT_DELAY`` doubling to 300 s);
- ``call``: one REST call that failed on the network, retried under the key lock
  (``ACCOUNT_MAX_RETRIES`` extra tries);
- ``publish``: the outbox flushing a batch Redis refused;
- ``outage``: a sink round that hit a Redis or database outage, the lost LISTEN connection.

Tests inject ``RetryPolicies.immediate()`` (no waiting) instead of patching sleeps.

Whether a failure is worth another try is not the policy's call: that is ``errors.should_retry``,
decided where library errors are translated.

The delays are redis-py's ``redis.backoff`` classes (``EqualJitterBackoff``: base * 2^n capped,
jittered in [50 %, 100 %] so many accounts do not retry in step). redis-py is already a
dependency and keeps them for its own connection retries; a backoff there is a plain function of
the failure count, which is what these loops need: they wait on stop and wake events rather than
a bare sleep, honour a venue's Retry-After and report each failure. tenacity and stamina own the
loop itself (decorators, retrying iterators) and would add a dependency to do less here.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.backoff import AbstractBackoff, EqualJitterBackoff, NoBackoff

from fullon_account_service.settings import Settings


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    backoff: AbstractBackoff
    cap_s: float
    """The longest wait; also the wait of a failure that will not clear soon (rejected keys)."""
    retries: int | None = None
    """Extra tries of a bounded retry (``None``: retry until stopped)."""

    @classmethod
    def exponential(cls, base_s: float, cap_s: float, retries: int | None = None) -> RetryPolicy:
        return cls(EqualJitterBackoff(cap=cap_s, base=base_s), cap_s, retries)

    @classmethod
    def immediate(cls, retries: int | None = None) -> RetryPolicy:
        """No waiting at all: for tests, which wait on conditions instead."""
        return cls(NoBackoff(), 0.0, retries)

    def start(self) -> Attempts:
        return Attempts(self)


class Attempts:
    """One loop's run of consecutive failures under a policy."""

    __slots__ = ("_failures", "policy")

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self._failures = 0

    @property
    def failures(self) -> int:
        return self._failures

    @property
    def cap_s(self) -> float:
        return self.policy.cap_s

    @property
    def exhausted(self) -> bool:
        """Every try of a bounded policy has been used."""
        return self.policy.retries is not None and self._failures >= self.policy.retries

    def next(self, at_least_s: float = 0.0) -> float:
        """The wait after one more failure, never below ``at_least_s`` (a venue's Retry-After)."""
        delay = float(self.policy.backoff.compute(self._failures))
        self._failures += 1
        return max(delay, at_least_s)

    def reset(self) -> None:
        self._failures = 0


NO_RETRY = RetryPolicy.immediate(retries=0)
"""One try only: the default of a call nobody gave a policy."""
PUBLISH_RETRY = RetryPolicy.exponential(0.2, 5.0)
OUTAGE_RETRY = RetryPolicy.exponential(0.1, 5.0)


@dataclass(frozen=True, slots=True)
class RetryPolicies:
    venue: RetryPolicy
    call: RetryPolicy
    publish: RetryPolicy
    outage: RetryPolicy

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicies:
        reconnect = settings.reconnect_delay_s
        return cls(
            venue=RetryPolicy.exponential(reconnect, 300.0),
            call=RetryPolicy.exponential(min(reconnect, 1.0), 5.0, retries=settings.max_retries),
            publish=PUBLISH_RETRY,
            outage=OUTAGE_RETRY,
        )

    @classmethod
    def immediate(cls, retries: int = 0) -> RetryPolicies:
        none = RetryPolicy.immediate()
        return cls(venue=none, call=RetryPolicy.immediate(retries), publish=none, outage=none)
