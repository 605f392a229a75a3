"""SPID and CIE: a SAML2 service provider per the AgID technical rules, on pysaml2.

- The SP's key and certificate live in SPID_KEY_DIR (``lgnetforma spid keys`` makes them,
  with the attributes Avviso SPID n. 29 v3 asks of public bodies), never in git.
- The trusted identity providers are the metadata files (``*.xml``) in SPID_IDP_METADATA_DIR:
  the deployer refreshes them from the SPID registry and the CIE federation (see README).
- Every AuthnRequest is stored (``SamlRequest``): an answer must name one we sent, come from
  the IdP it was sent to, within SAML_REQUEST_MAX_AGE, once, at the level asked or above.
  pysaml2 checks the signatures (xmlsec1), audience, recipient, destination and times.
"""

from __future__ import annotations

import base64
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import saml2
import saml2.md
from flask import current_app
from flask_babel import lazy_gettext as _l
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, samlp
from saml2.authn_context import requested_authn_context
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import entity_descriptor, sign_entity_descriptor
from saml2.saml import NAME_FORMAT_BASIC, NAMEID_FORMAT_ENTITY, NAMEID_FORMAT_TRANSIENT, Issuer
from saml2.sigver import security_context
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from lgnetforma.extensions import db
from lgnetforma.models import SamlRequest, utcnow
from lgnetforma.services.people.fiscal_code import check_fiscal_code
from lgnetforma.services.platform.errors import ServiceError
from lgnetforma.services.platform.links import absolute_url

SPID_NS = "https://spid.gov.it/saml-extensions"
CIE_NS = "https://www.cartaidentita.interno.gov.it/saml-extensions"
LEVELS = {level: f"https://www.spid.gov.it/SpidL{level}" for level in (1, 2, 3)}
# The attributes asked of the IdP (attribute consuming service 0).
ATTRIBUTES = ("name", "familyName", "fiscalNumber", "email")
# CIE's schema allows no email: the same service, described for the CIE federation.
CIE_ATTRIBUTES = ("name", "familyName", "fiscalNumber", "dateOfBirth")
KEY_FILE = "sp.key"
CERT_FILE = "sp.crt"


class SpidError(ServiceError):
    """A response refused: the message says why, in the user's language; ``reason`` is for
    the audit trail."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            _l(
                "L'accesso con SPID o CIE non è riuscito e nessun dato è stato usato. "
                "Riprova dall'inizio; se succede ancora, scrivi all'assistenza."
            )
        )
        self.reason = reason


@dataclass(frozen=True)
class Identity:
    """What the IdP asserted about the person."""

    fiscal_code: str
    given_name: str
    family_name: str
    email: str
    idp: str
    level: int
    name_id: str
    session_index: str

    @property
    def full_name(self) -> str:
        return " ".join(f"{self.given_name} {self.family_name}".split())


# --- settings --------------------------------------------------------------------------


def key_dir() -> Path:
    configured = current_app.config.get("SPID_KEY_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "spid"


def idp_metadata_dir() -> Path:
    configured = current_app.config.get("SPID_IDP_METADATA_DIR")
    return Path(configured) if configured else key_dir() / "idp-metadata"


def entity_id() -> str:
    return current_app.config.get("SPID_ENTITY_ID") or absolute_url("spid.metadata")


def idp_metadata_files() -> list[Path]:
    folder = idp_metadata_dir()
    return sorted(folder.glob("*.xml")) if folder.is_dir() else []


def configured() -> bool:
    """SPID/CIE is offered only when set up: entity id (or the development test IdP),
    key, certificate, xmlsec1 and at least one trusted IdP."""
    config = current_app.config
    if not (config.get("SPID_ENTITY_ID") or test_idp_enabled()):
        return False
    keys = key_dir()
    return (
        (keys / KEY_FILE).is_file()
        and (keys / CERT_FILE).is_file()
        and shutil.which("xmlsec1") is not None
        and bool(idp_metadata_files())
    )


def test_idp_enabled() -> bool:
    """The development test IdP (``make run``): never in production."""
    config = current_app.config
    return bool(config.get("SPID_TEST_IDP")) and config.get("LGNETFORMA_ENV") != "production"


def _settings_key() -> tuple:
    files = idp_metadata_files()
    return (
        entity_id(),
        str(key_dir()),
        tuple((str(path), path.stat().st_mtime_ns) for path in files),
        current_app.config.get("PUBLIC_BASE_URL"),
    )


def sp_config() -> SPConfig:
    """pysaml2's configuration, rebuilt when the IdP metadata folder changes."""
    cache = current_app.extensions.setdefault("lgnetforma_spid", {})
    key = _settings_key()
    if cache.get("key") == key:
        return cache["config"]
    config = current_app.config
    keys = key_dir()
    organisation = config.get("SPID_ORG_NAME") or "LGNetforma"
    settings: dict[str, Any] = {
        "entityid": entity_id(),
        "xmlsec_binary": shutil.which("xmlsec1"),
        "key_file": str(keys / KEY_FILE),
        "cert_file": str(keys / CERT_FILE),
        "metadata": {"local": [str(path) for path in idp_metadata_files()]},
        "allow_unknown_attributes": True,
        "accepted_time_diff": config.get("SAML_CLOCK_SKEW_SECONDS", 60),
        "service": {
            "sp": {
                "name": config.get("SPID_ORG_DISPLAY_NAME") or organisation,
                "name_id_format": [NAMEID_FORMAT_TRANSIENT],
                "endpoints": {
                    "assertion_consumer_service": [(absolute_url("spid.acs"), BINDING_HTTP_POST)],
                    "single_logout_service": [
                        (absolute_url("spid.slo"), BINDING_HTTP_REDIRECT),
                        (absolute_url("spid.slo"), BINDING_HTTP_POST),
                    ],
                },
                "required_attributes": list(ATTRIBUTES),
                "requested_attribute_name_format": NAME_FORMAT_BASIC,
                "authn_requests_signed": True,
                "logout_requests_signed": True,
                "want_assertions_signed": True,
                "want_response_signed": False,
                "allow_unsolicited": False,
                "signing_algorithm": SIG_RSA_SHA256,
                "digest_algorithm": DIGEST_SHA256,
            }
        },
        "organization": {
            "name": [(organisation, "it")],
            "display_name": [(config.get("SPID_ORG_DISPLAY_NAME") or organisation, "it")],
            "url": [(config.get("SPID_ORG_URL") or absolute_url("public.home"), "it")],
        },
    }
    sp = SPConfig()
    sp.load(settings)
    cache.update(key=key, config=sp)
    return sp


def client() -> Saml2Client:
    return Saml2Client(sp_config())


def identity_providers() -> list[dict[str, str]]:
    """The trusted IdPs for the button: entity id and display name, sorted by name."""
    if not configured():
        return []
    metadata = sp_config().metadata
    found = []
    for entity in metadata.identity_providers():
        name = metadata.name(entity, "it") or metadata.name(entity, "en") or entity
        found.append({"entity_id": entity, "name": str(name)})
    return sorted(found, key=lambda idp: idp["name"].lower())


def cie_entity_id() -> str:
    return current_app.config.get("CIE_IDP_ENTITY_ID") or ""


# --- metadata --------------------------------------------------------------------------


def sp_metadata(federation: str = "spid") -> str:
    """The SP's signed metadata: for SPID with the extensions for public bodies (Avviso 29
    v3), or for the CIE federation ("cie": its own contact and attribute rules)."""
    conf = sp_config()
    config = current_app.config
    descriptor = entity_descriptor(conf)
    sp = descriptor.spsso_descriptor
    for index, acs in enumerate(sp.assertion_consumer_service):
        acs.index = str(index)
        acs.is_default = "true" if index == 0 else None
    service = sp.attribute_consuming_service[0]
    service.index = "0"
    service.service_name[0].lang = "it"
    service.service_name[0].text = config.get("SPID_ORG_DISPLAY_NAME") or "LGNetforma"
    service.requested_attribute = [
        saml2.md.RequestedAttribute(name=name, name_format=NAME_FORMAT_BASIC)
        for name in (CIE_ATTRIBUTES if federation == "cie" else ATTRIBUTES)
    ]
    # Encryption keys are not used; the key serves for signing only.
    sp.key_descriptor = [kd for kd in sp.key_descriptor if kd.use != "encryption"]
    for kd in sp.key_descriptor:
        kd.use = "signing"
    descriptor.extensions = None
    descriptor.contact_person = [
        _cie_contact(config) if federation == "cie" else _spid_contact(config)
    ]
    descriptor.register_prefix({"spid": SPID_NS, "cie": CIE_NS})
    _, signed = sign_entity_descriptor(
        descriptor, None, security_context(conf), sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256
    )
    return str(signed)


def _extensions(namespace: str, values: list[tuple[str, str | None]]) -> saml2.md.Extensions:
    extensions = saml2.md.Extensions()
    extensions.extension_elements = [
        saml2.ExtensionElement(name, namespace=namespace, text=text) for name, text in values
    ]
    return extensions


def _spid_contact(config: Any) -> saml2.md.ContactPerson:
    """Avviso SPID 29 v3: contactType "other", spid:IPACode and spid:Public."""
    contact = saml2.md.ContactPerson(contact_type="other")
    values: list[tuple[str, str | None]] = []
    if config.get("SPID_IPA_CODE"):
        values.append(("IPACode", config["SPID_IPA_CODE"]))
    values.append(("Public", None))
    contact.extensions = _extensions(SPID_NS, values)
    contact.email_address = [saml2.md.EmailAddress(text=config.get("SPID_CONTACT_EMAIL") or "")]
    if config.get("SPID_CONTACT_PHONE"):
        contact.telephone_number = [saml2.md.TelephoneNumber(text=config["SPID_CONTACT_PHONE"])]
    return contact


def _cie_contact(config: Any) -> saml2.md.ContactPerson:
    """CIE manual: contactType "administrative", cie:Public, IPACode, Municipality, Company."""
    contact = saml2.md.ContactPerson(contact_type="administrative")
    values: list[tuple[str, str | None]] = [("Public", None)]
    if config.get("SPID_IPA_CODE"):
        values.append(("IPACode", config["SPID_IPA_CODE"]))
    values.append(("Municipality", config.get("SPID_MUNICIPALITY") or ""))
    if config.get("SPID_PROVINCE"):
        values.append(("Province", config["SPID_PROVINCE"]))
    values.append(("Country", "IT"))
    contact.extensions = _extensions(CIE_NS, values)
    contact.company = saml2.md.Company(text=config.get("SPID_ORG_NAME") or "LGNetforma")
    contact.email_address = [saml2.md.EmailAddress(text=config.get("SPID_CONTACT_EMAIL") or "")]
    if config.get("SPID_CONTACT_PHONE"):
        contact.telephone_number = [saml2.md.TelephoneNumber(text=config["SPID_CONTACT_PHONE"])]
    return contact


# --- the request -----------------------------------------------------------------------


def start_login(
    idp: str, *, purpose: str = "login", user_id: int | None = None, next_url: str | None = None
) -> str:
    """Store and sign an AuthnRequest for ``idp``; return the IdP's URL to redirect to
    (HTTP-Redirect binding: the signature travels in the query string, no script)."""
    sp = client()
    if idp not in {entity["entity_id"] for entity in identity_providers()}:
        raise ServiceError(_l("Il gestore di identità scelto non è tra quelli riconosciuti."))
    level = int(current_app.config.get("SPID_LEVEL") or 2)
    destination = sp.sso_location(idp, BINDING_HTTP_REDIRECT)
    request = samlp.AuthnRequest(
        id=saml2.s_utils.sid(),
        version=saml2.VERSION,
        issue_instant=saml2.time_util.instant(),
        destination=destination,
        issuer=Issuer(text=sp.config.entityid, format=NAMEID_FORMAT_ENTITY),
        name_id_policy=samlp.NameIDPolicy(format=NAMEID_FORMAT_TRANSIENT),
        requested_authn_context=requested_authn_context(LEVELS[level], comparison="minimum"),
        force_authn="true" if level > 1 else None,
        assertion_consumer_service_url=absolute_url("spid.acs"),
        protocol_binding=BINDING_HTTP_POST,
        attribute_consuming_service_index="0",
    )
    request.issuer.name_qualifier = sp.config.entityid
    _purge_old_requests()
    db.session.add(
        SamlRequest(
            id=request.id,
            idp_entity_id=idp,
            level=level,
            purpose=purpose,
            user_id=user_id,
            next_url=next_url,
        )
    )
    db.session.commit()
    info = sp.apply_binding(
        BINDING_HTTP_REDIRECT,
        str(request),
        destination,
        relay_state=secrets.token_hex(8),
        sign=True,
        sigalg=SIG_RSA_SHA256,
    )
    return dict(info["headers"])["Location"]


def _purge_old_requests() -> None:
    """Requests older than a day can no longer be answered: their rows go."""
    db.session.execute(
        delete(SamlRequest).where(SamlRequest.created_at < utcnow() - timedelta(days=1))
    )


# --- the response ----------------------------------------------------------------------


def _peek(saml_response: str) -> samlp.Response:
    try:
        xml = base64.b64decode(saml_response, validate=False)
        response = samlp.response_from_string(xml)
    except Exception as error:  # noqa: BLE001 - anything unreadable is refused
        raise SpidError(f"unreadable response: {type(error).__name__}") from None
    if response is None:
        raise SpidError("not a SAML response")
    return response


def finish_login(saml_response: str) -> tuple[Identity, SamlRequest]:
    """Check a response posted to the ACS; the person's identity, or SpidError."""
    if not saml_response:
        raise SpidError("no SAMLResponse")
    peeked = _peek(saml_response)
    if not peeked.in_response_to:
        raise SpidError("no InResponseTo")
    sent = db.session.get(SamlRequest, peeked.in_response_to)
    if sent is None:
        raise SpidError("InResponseTo names no request of ours")
    if sent.consumed_at is not None:
        raise SpidError("request already answered (replay)")
    max_age = int(current_app.config.get("SAML_REQUEST_MAX_AGE_SECONDS", 900))
    if sent.created_at < utcnow() - timedelta(seconds=max_age):
        raise SpidError("request expired")
    issuer = (peeked.issuer.text or "").strip() if peeked.issuer is not None else ""
    if issuer != sent.idp_entity_id:
        raise SpidError(f"issuer {issuer!r} is not the IdP asked ({sent.idp_entity_id!r})")
    acs = absolute_url("spid.acs")
    if peeked.destination != acs:
        raise SpidError(f"destination {peeked.destination!r} is not our ACS")
    # Used up whatever happens next: a second try with the same request is a replay.
    sent.consumed_at = utcnow()
    db.session.commit()
    try:
        parsed = client().parse_authn_request_response(
            saml_response, BINDING_HTTP_POST, outstanding={sent.id: sent.next_url or "/"}
        )
    except Exception as error:  # noqa: BLE001 - pysaml2 raises many kinds; all refuse
        raise SpidError(f"refused by pysaml2: {type(error).__name__}: {error}") from None
    if parsed is None or parsed.assertion is None:
        raise SpidError("no valid assertion")
    identity = _identity(parsed, sent, acs)
    sent.assertion_id = parsed.assertion.id
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise SpidError("assertion already used (replay)") from None
    return identity, sent


def _instant(value: str | None) -> datetime | None:
    """A SAML xs:dateTime ("2026-12-01T15:00:00Z", fractions allowed) or None."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _spid_rules(parsed: Any, sent: SamlRequest) -> None:
    """What the SPID technical rules add to SAML's own checks (pysaml2 did those)."""
    response, assertion = parsed.response, parsed.assertion
    if response.issuer is not None and response.issuer.format not in (None, NAMEID_FORMAT_ENTITY):
        raise SpidError("Response Issuer Format is not entity")
    if assertion.version != "2.0":
        raise SpidError("Assertion Version is not 2.0")
    skew = timedelta(seconds=int(current_app.config.get("SAML_CLOCK_SKEW_SECONDS", 60)))
    issued = _instant(assertion.issue_instant)
    if issued is None or issued < sent.created_at - skew or issued > utcnow() + skew:
        raise SpidError("Assertion IssueInstant outside the request's lifetime")
    if assertion.issuer is None or assertion.issuer.format != NAMEID_FORMAT_ENTITY:
        raise SpidError("Assertion Issuer Format is not entity")
    if (assertion.issuer.text or "").strip() != sent.idp_entity_id:
        raise SpidError("assertion issuer is not the IdP asked")
    name_id = assertion.subject.name_id if assertion.subject is not None else None
    if name_id is None or not (name_id.text or "").strip():
        raise SpidError("NameID missing")
    if name_id.format != NAMEID_FORMAT_TRANSIENT or not name_id.name_qualifier:
        raise SpidError("NameID Format is not transient or NameQualifier missing")
    conditions = assertion.conditions
    if conditions is None or not conditions.not_before or not conditions.not_on_or_after:
        raise SpidError("Conditions, NotBefore or NotOnOrAfter missing")
    audiences = [
        (audience.text or "").strip()
        for restriction in conditions.audience_restriction
        for audience in restriction.audience
    ]
    if entity_id() not in audiences:
        raise SpidError("AudienceRestriction does not name this service provider")
    for confirmation in assertion.subject.subject_confirmation:
        data = confirmation.subject_confirmation_data
        if data is None or not data.not_on_or_after:
            raise SpidError("SubjectConfirmationData NotOnOrAfter missing")


def _identity(parsed: Any, sent: SamlRequest, acs: str) -> Identity:
    assertion = parsed.assertion
    _spid_rules(parsed, sent)
    confirmations = assertion.subject.subject_confirmation if assertion.subject else []
    if not confirmations or any(
        c.subject_confirmation_data is None
        or c.subject_confirmation_data.recipient != acs
        or c.subject_confirmation_data.in_response_to != sent.id
        for c in confirmations
    ):
        raise SpidError("subject confirmation: wrong recipient or InResponseTo")
    class_refs = [
        statement.authn_context.authn_context_class_ref.text.strip()
        for statement in assertion.authn_statement
        if statement.authn_context is not None
        and statement.authn_context.authn_context_class_ref is not None
    ]
    levels = [level for level, ref in LEVELS.items() if ref in class_refs]
    if not levels or max(levels) < sent.level:
        raise SpidError(f"level {class_refs!r} below SpidL{sent.level}")
    ava = parsed.ava or {}

    def first(name: str) -> str:
        values = ava.get(name) or []
        return str(values[0]).strip() if values else ""

    try:
        fiscal_code = check_fiscal_code(first("fiscalNumber"))
    except ServiceError:
        raise SpidError("fiscalNumber missing or not a valid fiscal code") from None
    given, family = first("name"), first("familyName")
    if not given or not family:
        raise SpidError("name or familyName missing")
    name_id = parsed.name_id.text if parsed.name_id is not None else ""
    return Identity(
        fiscal_code=fiscal_code,
        given_name=given,
        family_name=family,
        email=first("email"),
        idp=sent.idp_entity_id,
        level=max(levels),
        name_id=name_id or "",
        session_index=next(
            (s.session_index for s in assertion.authn_statement if s.session_index), ""
        ),
    )
