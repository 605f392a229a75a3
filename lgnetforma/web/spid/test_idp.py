"""The development test IdP's pages (``SPID_TEST_IDP=1``, never in production): it shows
the AuthnRequest it received, lets the developer choose whom to assert, and posts the signed
response to the ACS with a button (no script)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from saml2.metadata import create_metadata_string
from wtforms import EmailField, HiddenField, StringField

from lgnetforma.dev import test_idp as idp
from lgnetforma.services.people import identity
from lgnetforma.web.forms import required, strip

bp = Blueprint("spid_test_idp", __name__, url_prefix="/spid/test-idp")


class PersonForm(FlaskForm):
    name = StringField(_l("Nome"), validators=[required()], filters=[strip])
    familyName = StringField(_l("Cognome"), validators=[required()], filters=[strip])  # noqa: N815
    fiscalNumber = StringField(_l("Codice fiscale"), validators=[required()], filters=[strip])  # noqa: N815
    email = EmailField(_l("Email"), validators=[required()], filters=[strip])
    request_id = HiddenField()
    relay_state = HiddenField()


@bp.before_request
def _development_only() -> None:
    if not identity.test_idp_enabled():
        abort(404)


@bp.get("/metadata")
def metadata() -> Response:
    return Response(
        create_metadata_string(None, idp.server().config, valid=None),
        mimetype="application/samlmetadata+xml",
    )


@bp.route("/sso", methods=["GET", "POST"])
def sso() -> str | Response:
    form = PersonForm()
    if request.method == "GET":
        try:
            parsed = idp.parse_request(
                request.args.get("SAMLRequest", ""),
                request.args.get("RelayState"),
                request.args.get("SigAlg"),
                request.args.get("Signature"),
            )
        except Exception as error:  # noqa: BLE001 - shown to the developer
            return render_template("spid/test_idp.html", error=str(error) or repr(error)), 400
        form.request_id.data = parsed.message.id
        form.relay_state.data = request.args.get("RelayState", "")
        for key, value in idp.DEMO_PERSON.items():
            getattr(form, key).data = value
        return render_template("spid/test_idp.html", form=form, request_xml=str(parsed.message))
    if form.validate_on_submit():
        person = {key: getattr(form, key).data for key in idp.DEMO_PERSON}
        response = idp.make_response(form.request_id.data, person)
        return render_template(
            "spid/test_idp_post.html", response=response, relay_state=form.relay_state.data
        )
    return render_template("spid/test_idp.html", form=form), 400


@bp.get("/slo")
def slo() -> Response:
    return Response("logout\n", mimetype="text/plain")
