"""Budgets against guessing: failed logins, password-reset mails, API tokens.

Flask-Limiter's decorators count every request, which suits registration and the reset
form per IP. Guessing is limited on *failures*, which only the view knows about, so these
budgets are spent by the views themselves, in the same storage Flask-Limiter uses (Redis
when REDIS_URL is set, so that every app server counts the same failures; memory
otherwise) and with the same moving-window strategy.

Keys hold a hash of the email, never the email: the rate-limit store keeps no personal data.
If the store fails (Redis down), a per-process memory store takes over until it is back.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import current_app
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter, RateLimiter

from lgnetforma.extensions import limiter

log = logging.getLogger(__name__)
_fallback: RateLimiter | None = None


def digest(text: str) -> str:
    """What a key carries instead of an email or a token."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Budget:
    """A limit (a Flask-Limiter string, read from the setting ``setting`` unless ``limit``
    gives it) counted separately for each ``key``."""

    setting: str
    key: tuple[str, ...]
    limit: str | None = None

    def items(self) -> list[RateLimitItem]:
        return parse_many(self.limit or current_app.config[self.setting])

    def identifiers(self) -> tuple[str, ...]:
        prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or "lgnetforma"
        return (prefix, self.setting.lower(), *self.key)


def enabled() -> bool:
    return bool(current_app.config.get("RATELIMIT_ENABLED"))


def _fallback_strategy() -> RateLimiter:
    global _fallback
    if _fallback is None:
        _fallback = MovingWindowRateLimiter(MemoryStorage())
    return _fallback


def _call(method: str, item: RateLimitItem, identifiers: tuple[str, ...]) -> Any:
    try:
        return getattr(limiter.limiter, method)(item, *identifiers)
    except Exception:  # the shared store is down: limit per process rather than not at all
        log.warning("rate-limit storage unavailable, counting in memory", exc_info=True)
        return getattr(_fallback_strategy(), method)(item, *identifiers)


def exceeded(budgets: Iterable[Budget]) -> Budget | None:
    """The first budget already used up, or None. Spends nothing."""
    if not enabled():
        return None
    for budget in budgets:
        ids = budget.identifiers()
        if any(not _call("test", item, ids) for item in budget.items()):
            return budget
    return None


def spend(budgets: Iterable[Budget]) -> list[Budget]:
    """Count one against each budget; return the budgets this used up."""
    if not enabled():
        return []
    used_up = []
    for budget in budgets:
        ids = budget.identifiers()
        for item in budget.items():
            _call("hit", item, ids)
        if any(not _call("test", item, ids) for item in budget.items()):
            used_up.append(budget)
    return used_up


def forgive(budget: Budget) -> None:
    """Start ``budget`` afresh (a successful login clears its account-and-address count)."""
    if not enabled():
        return
    ids = budget.identifiers()
    for item in budget.items():
        _call("clear", item, ids)


def retry_after(budget: Budget) -> int:
    """Seconds until ``budget`` allows one more attempt (at least 1)."""
    ids = budget.identifiers()
    resets = [
        stats.reset_time
        for item in budget.items()
        if (stats := _call("get_window_stats", item, ids)).remaining <= 0
    ]
    return max(1, math.ceil(max(resets, default=time.time() + 60) - time.time()))


def once_per_minute(*key: str) -> bool:
    """True the first time in a minute for ``key``: audit a flood once, not per request."""
    budget = Budget("audit_once", key, limit="1/minute")
    if not enabled() or exceeded([budget]):
        return False
    spend([budget])
    return True
