"""The trainers' editor: courses and modules written in the browser, saved as versions."""

from lgnetforma.web.author import analysis, grants  # noqa: F401  (registers views on bp)
from lgnetforma.web.author.routes import bp

__all__ = ["bp"]
