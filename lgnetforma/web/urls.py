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
