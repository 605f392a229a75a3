"""SPID/CIE: metadata, signed AuthnRequest, the ACS against a test IdP played by pysaml2,
accounts by fiscal code, and every forged, unsigned, replayed, expired or mis-addressed
response refused."""

from __future__ import annotations

import base64
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from defusedxml import ElementTree as etree

from tests.helpers import PASSWORD, csrf_token, login

pytestmark = pytest.mark.skipif(shutil.which("xmlsec1") is None, reason="xmlsec1 missing")

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
SPID = "https://spid.gov.it/saml-extensions"


@pytest.fixture(scope="session")
def spid_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SP's and the test IdP's keys, made once (RSA generation is slow)."""
    from lgnetforma import create_app
    from lgnetforma.dev import test_idp
    from lgnetforma.services.people import identity

    folder = tmp_path_factory.mktemp("spid")
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "SPID_TEST_IDP": True,
            "SPID_KEY_DIR": str(folder),
            "SPID_IPA_CODE": "test",
        }
    )
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["spid", "test-idp"])
        assert result.exit_code == 0, result.output
        assert identity.configured()
        test_idp._ensure_keys()
    return folder


@pytest.fixture
def spid_app(app: Any, spid_keys: Path, tmp_path: Path) -> Any:
    folder = tmp_path / "spid"
    shutil.copytree(spid_keys, folder)
    app.config.update(
        SPID_TEST_IDP=True,
        SPID_KEY_DIR=str(folder),
        SPID_IPA_CODE="c_h501",
        SPID_ORG_NAME="Ministero dell'Interno",
        SPID_CONTACT_EMAIL="spid@example.gov.it",
        SPID_CONTACT_PHONE="+390600000000",
    )
    return app


def _idp_entity(app: Any) -> str:
    from lgnetforma.dev import test_idp

    with app.test_request_context():
        return test_idp.entity_id()


def _start(client: Any, app: Any) -> tuple[str, dict[str, str]]:
    """Ask /spid/login for the test IdP; return the request id and the query it carries."""
    from lgnetforma.dev import test_idp

    response = client.get("/spid/login", query_string={"idp": _idp_entity(app)})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    query = {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}
    with app.test_request_context():
        parsed = test_idp.parse_request(
            query["SAMLRequest"], query.get("RelayState"), query["SigAlg"], query["Signature"]
        )
    return parsed.message.id, query


def _respond(app: Any, request_id: str, **kwargs: Any) -> str:
    from lgnetforma.dev import test_idp

    with app.test_request_context():
        return test_idp.make_response(request_id, **kwargs)


def test_metadata_is_signed_with_spid_extensions(spid_app: Any) -> None:
    response = spid_app.test_client().get("/spid/metadata")
    assert response.status_code == 200
    root = etree.fromstring(response.data)
    ns = {"md": MD, "spid": SPID, "ds": "http://www.w3.org/2000/09/xmldsig#"}
    assert root.find("ds:Signature", ns) is not None
    sp = root.find("md:SPSSODescriptor", ns)
    assert sp.get("AuthnRequestsSigned") == "true"
    assert sp.get("WantAssertionsSigned") == "true"
    names = [
        a.get("Name") for a in sp.findall("md:AttributeConsumingService/md:RequestedAttribute", ns)
    ]
    assert names == ["name", "familyName", "fiscalNumber", "email"]
    contact = root.find("md:ContactPerson", ns)
    assert contact.get("contactType") == "other"
    assert contact.find("md:Extensions/spid:IPACode", ns).text == "c_h501"
    assert contact.find("md:Extensions/spid:Public", ns) is not None
    assert contact.find("md:EmailAddress", ns).text == "spid@example.gov.it"
    acs = sp.find("md:AssertionConsumerService", ns)
    assert acs.get("index") == "0" and acs.get("isDefault") == "true"
    assert root.find("md:Organization/md:OrganizationName", ns).text == "Ministero dell'Interno"


def test_spid_is_off_until_configured(app: Any) -> None:
    client = app.test_client()
    assert client.get("/spid/metadata").status_code == 404
    assert client.get("/spid/login?idp=x").status_code == 404
    assert "Entra con SPID" not in client.get("/accesso").get_data(as_text=True)


def test_authn_request_is_signed_and_asks_level_2(spid_app: Any) -> None:
    client = spid_app.test_client()
    assert "Entra con SPID" in client.get("/accesso").get_data(as_text=True)
    request_id, query = _start(client, spid_app)  # the IdP checked the signature
    xml = etree.fromstring(_inflate(query["SAMLRequest"]))
    assert xml.get("ForceAuthn") == "true"
    assert xml.get("AttributeConsumingServiceIndex") == "0"
    assert xml.get("ID") == request_id
    ns = {
        "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
        "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    }
    issuer = xml.find("saml:Issuer", ns)
    assert issuer.get("NameQualifier") == issuer.text
    ref = xml.find("samlp:RequestedAuthnContext/saml:AuthnContextClassRef", ns)
    assert ref.text == "https://www.spid.gov.it/SpidL2"
    assert xml.find("samlp:RequestedAuthnContext", ns).get("Comparison") == "minimum"
    # A tampered query fails the IdP's signature check.
    from lgnetforma.dev import test_idp

    with spid_app.test_request_context(), pytest.raises(Exception):  # noqa: B017
        test_idp.parse_request(
            query["SAMLRequest"], "other-relay-state", query["SigAlg"], query["Signature"]
        )


def _inflate(value: str) -> bytes:
    import zlib

    return zlib.decompress(base64.b64decode(value), -15)


def test_first_login_completes_profile_without_password(spid_app: Any) -> None:
    from lgnetforma.extensions import db
    from lgnetforma.models import User

    client = spid_app.test_client()
    request_id, _ = _start(client, spid_app)
    response = client.post("/spid/acs", data={"SAMLResponse": _respond(spid_app, request_id)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/spid/completa")
    page = client.get("/spid/completa").get_data(as_text=True)
    assert "Maria Rossi" in page and "maria.rossi@comune.example.it" in page
    token = csrf_token(client, "/spid/completa")
    # A comune too small for the cycle is refused, with the reason.
    small = client.post(
        "/spid/completa",
        data={
            "csrf_token": token,
            "email": "maria.rossi@comune.example.it",
            "comune": "Ailoche",
            "privacy": "y",
        },
    )
    assert small.status_code == 200
    response = client.post(
        "/spid/completa",
        data={
            "csrf_token": token,
            "email": "maria.rossi@comune.example.it",
            "comune": "058091",
            "privacy": "y",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    with spid_app.app_context():
        user = db.session.scalar(db.select(User).filter_by(fiscal_code="RSSMRA80A41H501Y"))
        assert user.password_hash is None and user.full_name == "Maria Rossi"
        assert user.is_confirmed and user.comune.istat_code == "058091"
    home = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "Maria Rossi" in home
    # Next time the same person goes straight in, under the name the IdP asserts now.
    client.post("/esci", data={"csrf_token": csrf_token(client, "/")})
    request_id, _ = _start(client, spid_app)
    person = {
        "name": "Maria Teresa",
        "familyName": "Rossi",
        "fiscalNumber": "TINIT-RSSMRA80A41H501Y",
        "email": "m@example.it",
    }
    response = client.post(
        "/spid/acs", data={"SAMLResponse": _respond(spid_app, request_id, person=person)}
    )
    assert response.status_code == 302 and not response.headers["Location"].endswith("completa")
    with spid_app.app_context():
        user = db.session.scalar(db.select(User).filter_by(fiscal_code="RSSMRA80A41H501Y"))
        assert user.full_name == "Maria Teresa Rossi"
    assert client.get("/profilo").status_code == 200


def test_existing_account_links_spid_after_password(spid_app: Any, make_user: Any) -> None:
    from lgnetforma.extensions import db
    from lgnetforma.models import User

    user = make_user("operator", name="Maria Rossi")
    client = spid_app.test_client()
    login(client, user)
    profile = client.get("/profilo").get_data(as_text=True)
    assert "Collega SPID o CIE" in profile
    token = csrf_token(client, "/profilo")
    wrong = client.post(
        "/spid/collega",
        data={"csrf_token": token, "password": "sbagliata", "idp": _idp_entity(spid_app)},
    )
    assert "/spid/test-idp" not in wrong.headers["Location"]
    response = client.post(
        "/spid/collega",
        data={"csrf_token": token, "password": PASSWORD, "idp": _idp_entity(spid_app)},
    )
    query = {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}
    request_id = etree.fromstring(_inflate(query["SAMLRequest"])).get("ID")
    response = client.post("/spid/acs", data={"SAMLResponse": _respond(spid_app, request_id)})
    assert response.status_code == 302 and "/profilo" in response.headers["Location"]
    with spid_app.app_context():
        assert db.session.get(User, user["id"]).fiscal_code == "RSSMRA80A41H501Y"
    assert "RSSMRA80A41H501Y" in client.get("/profilo").get_data(as_text=True)


# --- refusals --------------------------------------------------------------------------


def _refused(client: Any, saml_response: str, why: str) -> None:
    """Refused with 403, nobody logged in, and the reason ``why`` in the audit trail."""
    from lgnetforma.extensions import db
    from lgnetforma.models import AuditEvent

    response = client.post("/spid/acs", data={"SAMLResponse": saml_response})
    assert response.status_code == 403, response.get_data(as_text=True)[:500]
    assert client.get("/profilo").status_code == 302  # not logged in
    with client.application.app_context():
        event = db.session.scalars(
            db.select(AuditEvent).filter_by(action="spid.refused").order_by(AuditEvent.id.desc())
        ).first()
        assert why in event.details["reason"], event.details["reason"]


def test_unsigned_response_refused(spid_app: Any) -> None:
    client = spid_app.test_client()
    request_id, _ = _start(client, spid_app)
    _refused(
        client,
        _respond(spid_app, request_id, sign_assertion=False, sign_response=False),
        "Signature",
    )


def test_forged_response_refused(spid_app: Any) -> None:
    client = spid_app.test_client()
    request_id, _ = _start(client, spid_app)
    xml = base64.b64decode(_respond(spid_app, request_id)).decode()
    forged = xml.replace("RSSMRA80A41H501Y", "MRTMTT25D09F205Z")
    assert forged != xml
    _refused(client, base64.b64encode(forged.encode()).decode(), "Signature")


def test_response_signed_by_another_key_refused(spid_app: Any, tmp_path: Path) -> None:
    from saml2.server import Server
    from saml2.sigver import security_context

    from lgnetforma.dev import test_idp
    from lgnetforma.services.people.spid_keys import create_keys

    client = spid_app.test_client()
    request_id, _ = _start(client, spid_app)
    with spid_app.test_request_context():
        key, cert = create_keys(
            tmp_path / "rogue",
            entity_id="x",
            organisation="x",
            ipa_code="x",
            locality="x",
            common_name="x",
            key_size=2048,
        )
        config = test_idp._config()
        config.key_file, config.cert_file = str(key), str(cert)
        rogue = Server(config=config)
        rogue.sec = security_context(config)  # same entity id and metadata, another key
        forged = test_idp.make_response(request_id, idp=rogue)
    _refused(client, forged, "Signature")


def test_replayed_response_refused(spid_app: Any) -> None:
    client = spid_app.test_client()
    request_id, _ = _start(client, spid_app)
    saml_response = _respond(spid_app, request_id)
    assert client.post("/spid/acs", data={"SAMLResponse": saml_response}).status_code == 302
    other = spid_app.test_client()
    _refused(other, saml_response, "replay")


def test_expired_request_refused(spid_app: Any) -> None:
    from lgnetforma.extensions import db
    from lgnetforma.models import SamlRequest

    client = spid_app.test_client()
    request_id, _ = _start(client, spid_app)
    with spid_app.app_context():
        sent = db.session.get(SamlRequest, request_id)
        sent.created_at = sent.created_at - timedelta(hours=1)
        db.session.commit()
    _refused(client, _respond(spid_app, request_id), "expired")


def test_misaddressed_responses_refused(spid_app: Any) -> None:
    client = spid_app.test_client()
    request_id, _ = _start(client, spid_app)
    _refused(
        client,
        _respond(spid_app, request_id, destination="https://other.example/acs"),
        "destination",
    )
    # Meant for another service provider: the audience is not ours.
    request_id, _ = _start(client, spid_app)
    saml_response = _respond(spid_app, request_id)
    spid_app.config["SPID_ENTITY_ID"] = "https://other.example/spid/metadata"
    _refused(client, saml_response, "AudienceRestrictions")


def test_unknown_request_and_low_level_refused(spid_app: Any) -> None:
    client = spid_app.test_client()
    _refused(client, _respond(spid_app, "_never_sent_by_us"), "names no request")
    request_id, _ = _start(client, spid_app)
    _refused(client, _respond(spid_app, request_id, level=1), "below SpidL2")
    _refused(client, "not base64 at all <", "unreadable")


def test_fiscal_code_check_character() -> None:
    from lgnetforma.services.people.fiscal_code import check_fiscal_code, mask
    from lgnetforma.services.platform.errors import ServiceError

    assert check_fiscal_code("tinit-rssmra80a41h501y") == "RSSMRA80A41H501Y"
    assert check_fiscal_code("MRTMTT25D09F205Z") == "MRTMTT25D09F205Z"
    assert check_fiscal_code("MRTMTT25D09F2LRF") == "MRTMTT25D09F2LRF"  # omocodia
    with pytest.raises(ServiceError, match="dovrebbe essere Z"):
        check_fiscal_code("MRTMTT25D09F205A")
    with pytest.raises(ServiceError, match="16 caratteri"):
        check_fiscal_code("MRTMTT25D09")
    with pytest.raises(ServiceError, match="forma"):
        check_fiscal_code("1234567890123456")
    assert mask("RSSMRA80A41H501Y") == "************501Y"


def test_spid_only_for_operators(spid_app: Any, make_user: Any) -> None:
    operator = make_user("operator")
    coordinator = make_user("coordinator")
    spid_app.config["SPID_ONLY_FOR_OPERATORS"] = True
    client = spid_app.test_client()
    data = {
        "email": operator["email"],
        "password": PASSWORD,
        "csrf_token": csrf_token(client, "/accesso"),
    }
    page = client.post("/accesso", data=data)
    assert page.status_code == 200 and "entrano con SPID o CIE" in page.get_data(as_text=True)
    login(client, coordinator)  # staff keep their passwords


def test_deleting_account_forgets_fiscal_code(spid_app: Any) -> None:
    from lgnetforma.extensions import db
    from lgnetforma.models import SamlRequest, User
    from lgnetforma.services.people.personal_data import delete_account, export_data

    client = spid_app.test_client()
    request_id, _ = _start(client, spid_app)
    client.post("/spid/acs", data={"SAMLResponse": _respond(spid_app, request_id)})
    token = csrf_token(client, "/spid/completa")
    client.post(
        "/spid/completa",
        data={"csrf_token": token, "email": "m@example.it", "comune": "058091", "privacy": "y"},
    )
    with spid_app.app_context():
        user = db.session.scalar(db.select(User).filter_by(fiscal_code="RSSMRA80A41H501Y"))
        assert export_data(user)["account"]["fiscal_code"] == "RSSMRA80A41H501Y"
        assert not user.is_confirmed  # another address than the asserted one: confirmed by mail
        delete_account(user)
        db.session.commit()
        assert user.fiscal_code is None
        assert db.session.scalar(db.select(SamlRequest).filter_by(user_id=user.id)) is None


def test_development_test_idp_pages_log_in(spid_app: Any) -> None:
    """What `make run` shows: the button, the test IdP's pages, back to the service."""
    import html
    import re

    client = spid_app.test_client()
    login_page = client.get("/accesso").get_data(as_text=True)
    start = html.unescape(re.search(r'href="(/spid/login\?[^"]+)"', login_page).group(1))
    location = urlsplit(client.get(start).headers["Location"])
    idp_page = client.get(f"{location.path}?{location.query}")  # the test client's host
    assert idp_page.status_code == 200, idp_page.get_data(as_text=True)[:500]
    page = idp_page.get_data(as_text=True)
    fields = dict(re.findall(r'name="(\w+)"[^>]*value="([^"]*)"', page))
    fields["name"] = "Luca"
    posted = client.post("/spid/test-idp/sso", data=fields).get_data(as_text=True)
    saml_response = re.search(r'name="SAMLResponse" value="([^"]+)"', posted).group(1)
    response = client.post("/spid/acs", data={"SAMLResponse": saml_response})
    assert response.headers["Location"].endswith("/spid/completa")
    assert "Luca Rossi" in client.get("/spid/completa").get_data(as_text=True)


def test_test_idp_is_never_in_production(production_app: Any) -> None:
    production_app.config["SPID_TEST_IDP"] = True
    assert production_app.test_client().get("/spid/test-idp/metadata").status_code == 404


def test_an_account_without_password_is_deleted_after_spid(spid_app: Any) -> None:
    from lgnetforma.extensions import db
    from lgnetforma.models import User

    client = spid_app.test_client()
    request_id, _ = _start(client, spid_app)
    client.post("/spid/acs", data={"SAMLResponse": _respond(spid_app, request_id)})
    token = csrf_token(client, "/spid/completa")
    client.post(
        "/spid/completa",
        data={"csrf_token": token, "email": "m@example.it", "comune": "058091", "privacy": "y"},
    )
    profile = client.get("/profilo").get_data(as_text=True)
    assert "non ha una password" in profile and "Conferma con SPID o CIE" in profile
    token = csrf_token(client, "/profilo")
    started = client.post(
        "/spid/elimina", data={"csrf_token": token, "idp": _idp_entity(spid_app), "confirm": "y"}
    )
    query = {k: v[0] for k, v in parse_qs(urlsplit(started.headers["Location"]).query).items()}
    request_id = etree.fromstring(_inflate(query["SAMLRequest"])).get("ID")
    # Somebody else's identity cannot delete the account.
    other = {**_demo_person(), "fiscalNumber": "TINIT-MRTMTT25D09F205Z"}
    refused = client.post(
        "/spid/acs", data={"SAMLResponse": _respond(spid_app, request_id, person=other)}
    )
    assert refused.status_code == 403
    started = client.post(
        "/spid/elimina", data={"csrf_token": token, "idp": _idp_entity(spid_app), "confirm": "y"}
    )
    query = {k: v[0] for k, v in parse_qs(urlsplit(started.headers["Location"]).query).items()}
    request_id = etree.fromstring(_inflate(query["SAMLRequest"])).get("ID")
    done = client.post("/spid/acs", data={"SAMLResponse": _respond(spid_app, request_id)})
    assert done.status_code == 302
    with spid_app.app_context():
        assert db.session.scalar(db.select(User).filter_by(fiscal_code="RSSMRA80A41H501Y")) is None
    assert client.get("/profilo").status_code == 302


def _demo_person() -> dict[str, str]:
    from lgnetforma.dev.test_idp import DEMO_PERSON

    return dict(DEMO_PERSON)


def test_spid_keys_command_writes_a_public_body_certificate(app: Any, tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    app.config.update(
        SPID_KEY_DIR=str(tmp_path / "keys"),
        SPID_ENTITY_ID="https://formazione.example.gov.it/spid/metadata",
        SPID_IPA_CODE="m_it",
        SPID_ORG_NAME="Ministero dell'Interno",
    )
    runner = app.test_cli_runner()
    assert runner.invoke(args=["spid", "keys", "--days", "365"]).exit_code == 0
    cert = x509.load_pem_x509_certificate((tmp_path / "keys" / "sp.crt").read_bytes())
    subject = cert.subject
    assert (
        subject.get_attributes_for_oid(x509.ObjectIdentifier("2.5.4.97"))[0].value == "PA:IT-m_it"
    )
    assert (
        subject.get_attributes_for_oid(x509.ObjectIdentifier("2.5.4.83"))[0].value
        == "https://formazione.example.gov.it/spid/metadata"
    )
    assert subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "IT"
    policies = {
        p.policy_identifier.dotted_string
        for p in cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    }
    assert {"1.3.76.16.6", "1.3.76.16.4.2.1"} <= policies
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_encipherment
    assert (tmp_path / "keys" / "sp.key").stat().st_mode & 0o077 == 0
    # Never overwritten.
    again = runner.invoke(args=["spid", "keys"])
    assert again.exit_code == 1 and "non le sovrascrivo" in again.output


def test_single_logout_from_the_idp_ends_the_sessions(spid_app: Any) -> None:
    from saml2 import BINDING_HTTP_REDIRECT
    from saml2.saml import NAMEID_FORMAT_TRANSIENT, NameID
    from saml2.xmldsig import SIG_RSA_SHA256

    from lgnetforma.dev import test_idp
    from lgnetforma.services.people import identity
    from lgnetforma.services.platform.links import absolute_url

    client = spid_app.test_client()
    request_id, _ = _start(client, spid_app)
    client.post("/spid/acs", data={"SAMLResponse": _respond(spid_app, request_id)})
    token = csrf_token(client, "/spid/completa")
    client.post(
        "/spid/completa",
        data={"csrf_token": token, "email": "m@example.it", "comune": "058091", "privacy": "y"},
    )
    assert client.get("/profilo").status_code == 200
    with spid_app.test_request_context():
        idp = test_idp.server()
        name_id = NameID(
            format=NAMEID_FORMAT_TRANSIENT,
            name_qualifier=idp.config.entityid,
            text="_" + base64.b16encode(request_id.encode()).decode()[:30],
        )
        slo = absolute_url("spid.slo")
        _, logout = idp.create_logout_request(slo, identity.entity_id(), name_id=name_id)
        info = idp.apply_binding(
            BINDING_HTTP_REDIRECT,
            str(logout),
            slo,
            relay_state="r",
            sign=True,
            sigalg=SIG_RSA_SHA256,
        )
    location = urlsplit(dict(info["headers"])["Location"])
    other_browser = spid_app.test_client()
    answer = other_browser.get(f"{location.path}?{location.query}")
    assert answer.status_code == 302 and "SAMLResponse" in answer.headers["Location"]
    assert client.get("/profilo").status_code == 302  # every session of that person ended
    # An unsigned logout request, or one whose signature does not match, is refused.
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    forged = {**query, "RelayState": "other"}
    assert other_browser.get("/spid/slo", query_string=forged).status_code == 403
    query.pop("Signature")
    assert other_browser.get("/spid/slo", query_string=query).status_code == 403
