"""Administration: trainers, coordinators and other accounts."""

from lgnetforma.web.admin.routes import bp

__all__ = ["bp"]
