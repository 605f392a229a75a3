"""Coordination: what national, regional and comune coordinators use to run the plan."""

import lgnetforma.web.coordinate.bulk  # noqa: F401  (registers its views on bp)
import lgnetforma.web.coordinate.reminders  # noqa: F401  (registers its views on bp)
from lgnetforma.web.coordinate import dashboard, gradebook  # noqa: F401  (registers views on bp)
from lgnetforma.web.coordinate.routes import bp

__all__ = ["bp"]
