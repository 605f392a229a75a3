"""Registration, e-mail confirmation, login, logout and password reset."""

from lgnetforma.web.auth.routes import bp

__all__ = ["bp"]
