"""Coordination: what national, regional and comune coordinators use to run the plan."""

from lgnetforma.web.coordinate.routes import bp

__all__ = ["bp"]
