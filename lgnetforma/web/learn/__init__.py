"""Learning: catalogue, course and module pages, course media."""

from lgnetforma.web.learn import quiz  # noqa: F401  (registers the quiz views on bp)
from lgnetforma.web.learn.routes import bp

__all__ = ["bp"]
