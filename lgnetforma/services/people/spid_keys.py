"""The SP's key and self-signed certificate, with the attributes AgID requires of public
bodies (Avviso SPID n. 29 v3, §2: organizationIdentifier "PA:IT-<IPA code>", uri = entity id,
certificate policies agIDcert and cert_SP_Pub, key usage for signatures only).

The same attributes ``spid-compliant-certificates`` writes; it is not used directly because it
pins ``packaging==21.2`` (pytest needs a newer one) and looks the IPA code up online.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ORGANIZATION_IDENTIFIER = x509.ObjectIdentifier("2.5.4.97")
URI = x509.ObjectIdentifier("2.5.4.83")


def create_keys(
    folder: Path,
    *,
    entity_id: str,
    organisation: str,
    ipa_code: str,
    locality: str,
    common_name: str,
    days: int = 730,
    key_size: int = 3072,
) -> tuple[Path, Path]:
    """Write ``sp.key`` (0600) and ``sp.crt`` in ``folder``; refuse to overwrite them."""
    key_path, cert_path = folder / "sp.key", folder / "sp.crt"
    for path in (key_path, cert_path):
        if path.exists():
            raise FileExistsError(path)
    if not ipa_code:
        raise ValueError("IPA code missing")
    folder.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(URI, entity_id),
            x509.NameAttribute(ORGANIZATION_IDENTIFIER, f"PA:IT-{ipa_code}"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "IT"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, locality),
        ]
    )
    policies = [
        x509.PolicyInformation(
            x509.ObjectIdentifier("1.3.76.16"), [x509.UserNotice(None, "AgIDroot")]
        ),
        x509.PolicyInformation(
            x509.ObjectIdentifier("1.3.76.16.6"), [x509.UserNotice(None, "agIDcert")]
        ),
        x509.PolicyInformation(
            x509.ObjectIdentifier("1.3.76.16.4.2.1"), [x509.UserNotice(None, "cert_SP_Pub")]
        ),
    ]
    now = datetime.now(UTC)
    serial = x509.random_serial_number()
    public_key = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.CertificatePolicies(policies), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path
