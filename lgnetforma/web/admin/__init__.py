"""Administration: trainers, coordinators and other accounts."""

import lgnetforma.web.admin.cycles  # noqa: F401  (registers its views on bp)
import lgnetforma.web.admin.outbox  # noqa: F401  (registers its views on bp)
from lgnetforma.web.admin.routes import bp

__all__ = ["bp"]
