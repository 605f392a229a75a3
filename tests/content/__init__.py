"""Tests of the course format (lgnetforma.content)."""

from __future__ import annotations

from collections.abc import Iterable

from lgnetforma.content import Problem


def syntax(problems: Iterable[Problem]) -> tuple[Problem, ...]:
    """The problems of the format's rules, without the review checks (``Problem.code``),
    which tests/content/test_review.py covers."""
    return tuple(p for p in problems if not p.code)
