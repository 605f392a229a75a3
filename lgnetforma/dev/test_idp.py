"""A test identity provider played by pysaml2: for development (``make run``) and the tests.

Never in production (``identity.test_idp_enabled``). Its key and certificate are made on
first use in SPID_KEY_DIR/test-idp/, and its metadata is written into the trusted IdP folder
so the service provider accepts it exactly as it accepts a real IdP: signatures and all.
"""

from __future__ import annotations

import base64
import shutil
from pathlib import Path
from typing import Any

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAME_FORMAT_BASIC, NAMEID_FORMAT_TRANSIENT, NameID
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from lgnetforma.services.people import identity
from lgnetforma.services.people.spid_keys import create_keys
from lgnetforma.services.platform.links import absolute_url

METADATA_FILE = "test-idp.xml"
DEMO_PERSON = {
    "name": "Maria",
    "familyName": "Rossi",
    "fiscalNumber": "TINIT-RSSMRA80A41H501Y",
    "email": "maria.rossi@comune.example.it",
}


def entity_id() -> str:
    return absolute_url("spid_test_idp.metadata")


def _folder() -> Path:
    return identity.key_dir() / "test-idp"


def _ensure_keys() -> None:
    if not (_folder() / "sp.crt").is_file():
        create_keys(
            _folder(),
            entity_id=entity_id(),
            organisation="LGNetforma test IdP",
            ipa_code="test",
            locality="Roma",
            common_name="LGNetforma test IdP",
            days=3650,
            key_size=2048,
        )


def _config() -> IdPConfig:
    _ensure_keys()
    sso = absolute_url("spid_test_idp.sso")
    settings: dict[str, Any] = {
        "entityid": entity_id(),
        "xmlsec_binary": shutil.which("xmlsec1"),
        "key_file": str(_folder() / "sp.key"),
        "cert_file": str(_folder() / "sp.crt"),
        "metadata": {"inline": [identity.sp_metadata()]} if identity.configured() else {},
        "accepted_time_diff": 60,
        "service": {
            "idp": {
                "name": "LGNetforma test IdP",
                "endpoints": {
                    "single_sign_on_service": [
                        (sso, BINDING_HTTP_REDIRECT),
                        (sso, BINDING_HTTP_POST),
                    ],
                    "single_logout_service": [
                        (absolute_url("spid_test_idp.slo"), BINDING_HTTP_REDIRECT)
                    ],
                },
                "name_id_format": [NAMEID_FORMAT_TRANSIENT],
                "want_authn_requests_signed": True,
                "policy": {
                    "default": {
                        "lifetime": {"minutes": 5},
                        "attribute_restrictions": None,
                        "name_form": NAME_FORMAT_BASIC,
                    }
                },
                "signing_algorithm": SIG_RSA_SHA256,
                "digest_algorithm": DIGEST_SHA256,
            }
        },
        "organization": {
            "name": [("LGNetforma test IdP", "it")],
            "display_name": [("IdP di prova (solo sviluppo)", "it")],
            "url": [(absolute_url("public.home"), "it")],
        },
    }
    config = IdPConfig()
    config.load(settings)
    return config


def install_metadata() -> Path:
    """Write the test IdP's metadata into the trusted folder (the SP then offers it)."""
    folder = identity.idp_metadata_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / METADATA_FILE
    path.write_bytes(create_metadata_string(None, _config(), valid=None))
    return path


def server() -> Server:
    return Server(config=_config())


def parse_request(
    saml_request: str, relay_state: str | None, sigalg: str | None, signature: str | None
) -> Any:
    """The SP's AuthnRequest, its query-string signature checked against the SP's metadata."""
    return server().parse_authn_request(
        saml_request,
        BINDING_HTTP_REDIRECT,
        relay_state=relay_state,
        sigalg=sigalg,
        signature=signature,
    )


def make_response(
    in_response_to: str,
    person: dict[str, str] | None = None,
    *,
    level: int = 2,
    destination: str | None = None,
    sign_assertion: bool = True,
    sign_response: bool = True,
    idp: Server | None = None,
) -> str:
    """A signed SAML Response (base64, for HTTP-POST) asserting ``person``."""
    idp = idp or server()
    person = person or DEMO_PERSON
    response = idp.create_authn_response(
        identity={key: [value] for key, value in person.items()},
        in_response_to=in_response_to,
        destination=destination or absolute_url("spid.acs"),
        sp_entity_id=identity.entity_id(),
        name_id=NameID(
            format=NAMEID_FORMAT_TRANSIENT,
            name_qualifier=idp.config.entityid,
            text="_" + base64.b16encode(in_response_to.encode()).decode()[:30],
        ),
        authn={
            "class_ref": identity.LEVELS[level],
            "authn_auth": idp.config.entityid,
        },
        sign_assertion=sign_assertion,
        sign_response=sign_response,
        sign_alg=SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA256,
    )
    return base64.b64encode(str(response).encode()).decode()
