"""URL helpers shared by the blueprints."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import request, url_for
from werkzeug.routing import IntegerConverter

from lgnetforma.models.base import MAX_ID

# Nobody pages this far; a larger number would overflow the database's OFFSET.
MAX_PAGE = 100_000


class IdConverter(IntegerConverter):
    """``<int:…>`` in every route: a number beyond what an id column holds is a 404, never
    a database error."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def page_number() -> int:
    """The ``page`` query argument, clamped to 1…MAX_PAGE (junk means page 1)."""
    page = request.args.get("page", 1, type=int) or 1
    return min(max(page, 1), MAX_PAGE)


def safe_next_url(target: str | None, default_endpoint: str = "public.home") -> str:
    """Only a local path is followed after login or a language switch (no open redirect)."""
    if target:
        parts = urlsplit(target)
        if (
            not parts.scheme
            and not parts.netloc
            and target.startswith("/")
            and not target.startswith("//")
            and "\\" not in target
        ):
            return target
    return url_for(default_endpoint)


class RowPage:
    """One page of a query returning rows of several entities (db.paginate returns only
    the first entity); the same attributes as Flask-SQLAlchemy's pagination."""

    def __init__(self, query, page: int, per_page: int) -> None:  # noqa: ANN001
        from sqlalchemy import func, select

        from lgnetforma.extensions import db

        self.per_page = per_page
        self.total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        # Past the last page shows the last page; nothing reaches the database as a huge OFFSET.
        self.page = min(max(page, 1), self.pages)
        self.items = db.session.execute(
            query.limit(per_page).offset((self.page - 1) * per_page)
        ).all()

    @property
    def pages(self) -> int:
        return max((self.total + self.per_page - 1) // self.per_page, 1)

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1
