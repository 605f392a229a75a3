"""URL helpers shared by the blueprints."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import url_for


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

        self.page = max(page, 1)
        self.per_page = per_page
        self.total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
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
