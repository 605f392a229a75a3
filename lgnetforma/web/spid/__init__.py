"""SPID and CIE: metadata, login, assertion consumer, single logout, profile completion,
linking from the profile; and, in development only, the test IdP (``test_idp``)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from lgnetforma.web.spid.routes import bp


def init_app(app: Flask) -> None:
    from lgnetforma.web.spid import test_idp

    app.register_blueprint(bp)
    app.register_blueprint(test_idp.bp)

    @app.context_processor
    def spid_templates() -> dict[str, Any]:
        from lgnetforma.services.people import identity
        from lgnetforma.services.people.fiscal_code import mask

        return {
            # Called by the templates that show the buttons, so others never read metadata.
            "spid_identity_providers": identity.identity_providers,
            "cie_entity_id": identity.cie_entity_id,
            "mask_fiscal_code": mask,
        }
