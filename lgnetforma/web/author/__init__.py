"""The trainers' editor: courses and modules written in the browser, saved as versions."""

from lgnetforma.web.author import analysis  # noqa: F401  (registers its views on bp)
from lgnetforma.web.author.routes import bp

__all__ = ["bp"]
