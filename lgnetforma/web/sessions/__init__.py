"""Live sessions, attendance and the personal training record."""

from lgnetforma.web.sessions.routes import bp

__all__ = ["bp"]
