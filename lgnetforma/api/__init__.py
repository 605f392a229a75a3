"""The JSON API under /api/v1: token authentication, OpenAPI document, JSON errors."""

from lgnetforma.api.routes import bp

__all__ = ["bp"]
