"""AgID's reference tool, spid-sp-test, against the running app: metadata (SPID and CIE
profiles, --extra), the AuthnRequest, and its whole suite of crafted responses (-tr) with
the tool's test IdP trusted. Its dependencies conflict with pytest's (it pins
packaging==21.2), so `make install-test` puts it in a virtualenv of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lgnetforma import PROJECT_ROOT
from tests.services import require
from tests.test_spid import spid_app, spid_keys  # noqa: F401  (fixtures)

pytestmark = pytest.mark.skipif(shutil.which("xmlsec1") is None, reason="xmlsec1 missing")

TOOL = os.environ.get(
    "LGNETFORMA_SPID_SP_TEST", str(PROJECT_ROOT / ".venv-spid-sp-test" / "bin" / "spid_sp_test")
)
TOOL_IDP = "https://localhost:8443"  # the entity id of the tool's own IdP


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the tool checks SAML, not the database


def _run(*args: str, env: dict[str, str], cwd: Path) -> str:
    result = subprocess.run(
        [TOOL, *args, "-d", "ERROR"],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        cwd=cwd,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert " 0 failed" in output, output[-5000:]
    return output


def test_spid_sp_test_passes(spid_app: Any, live_server: str, tmp_path: Path) -> None:  # noqa: F811
    require(Path(TOOL).is_file(), f"spid-sp-test is not installed at {TOOL} (make install-test)")
    from lgnetforma.services.people import identity
    from lgnetforma.services.people.spid_keys import create_keys

    spid_app.config.update(SPID_MUNICIPALITY="H501", SPID_PROVINCE="RM")
    # The tool's bundled IdP certificate has expired: it signs with a fresh one.
    key, cert = create_keys(
        tmp_path / "made",
        entity_id=TOOL_IDP,
        organisation="spid-sp-test",
        ipa_code="test",
        locality="Roma",
        common_name="spid-sp-test",
        key_size=2048,
    )
    tool_certs = tmp_path / "tool-idp"
    tool_certs.mkdir()
    shutil.copy(key, tool_certs / "private.key")
    shutil.copy(cert, tool_certs / "public.cert")
    env = {**os.environ, "IDP_CERT_PATH": str(tool_certs), "IDP_ENTITYID": TOOL_IDP}
    metadata = subprocess.run(
        [TOOL, "--idp-metadata"], capture_output=True, text=True, env=env, timeout=300, check=True
    ).stdout
    with spid_app.app_context():
        (identity.idp_metadata_dir() / "spid-sp-test.xml").write_text(metadata)
    sp = f"{live_server}/spid/metadata"
    authn = f"{live_server}/spid/login?idp={TOOL_IDP}"
    _run("--metadata-url", sp, "--extra", "-pr", "spid-sp-public", env=env, cwd=tmp_path)
    _run("--metadata-url", f"{sp}/cie", "--extra", "-pr", "cie-sp-public", env=env, cwd=tmp_path)
    _run("--metadata-url", sp, "--authn-url", authn, "--extra", env=env, cwd=tmp_path)
    _run("--metadata-url", sp, "--authn-url", authn, "-tr", env=env, cwd=tmp_path)
