"""The open cycle's figures, reused by each app worker for REPORT_CACHE_SECONDS."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import current_app

from lgnetforma.extensions import db
from lgnetforma.services.reporting.facts import T

# --- a short reuse of live figures ---------------------------------------------------


_LIVE: OrderedDict[tuple[Any, ...], tuple[float, Any]] = OrderedDict()
_LIVE_LOCK = threading.Lock()
_LIVE_KEPT = 1024
_clock = time.monotonic  # the tests' fake clock replaces it


def _live(key: tuple[Any, ...], compute: Callable[[], T], *, now: datetime | None = None) -> T:
    """``compute()`` for an open cycle, reused by this process for REPORT_CACHE_SECONDS.

    A national dashboard is asked for by many coordinators at once and its figures move
    by a few units a minute: recomputing them for every request would let a crowd of
    readers starve the operators. Zero turns the reuse off; an explicit ``now`` (a
    measurement at a given time) is never reused.
    """
    ttl = current_app.config.get("REPORT_CACHE_SECONDS", 0)
    if not ttl or now is not None:
        return compute()
    key = (db.session.get_bind().url.render_as_string(hide_password=True), *key)
    started = _clock()
    with _LIVE_LOCK:
        found = _LIVE.get(key)
        if found is not None and started - found[0] < ttl:
            _LIVE.move_to_end(key)
            return found[1]
    value = compute()
    with _LIVE_LOCK:
        _LIVE[key] = (started, value)
        _LIVE.move_to_end(key)
        while len(_LIVE) > _LIVE_KEPT:
            _LIVE.popitem(last=False)
    return value
