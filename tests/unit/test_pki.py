"""deployer/pki.py: the lab CA signs node and VIP certificates that verify against it with
the right names, and secrets are generated once, kept 0600 and stable across calls."""

from __future__ import annotations

import base64
import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from deployer.pki import CA, Secrets


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def ca(tmp_path: Path) -> CA:
    return CA(tmp_path / "pki", "demo")


def test_ca_is_a_ca_and_its_key_is_private(ca: CA) -> None:
    cert = x509.load_pem_x509_certificate(ca.cert_pem.encode())
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.subject == cert.issuer  # self-signed root
    cert.verify_directly_issued_by(cert)
    assert "demo" in cert.subject.rfc4514_string()
    assert mode(ca.dir / "ca.key") == 0o600 and mode(ca.dir / "ca.crt") == 0o600


def test_vip_certificate_verifies_against_the_ca_with_its_names(ca: CA) -> None:
    key_pem, cert_pem = ca.issue("vip", dns=["api.demo.stacklab"], ips=["10.40.0.5"])
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca.cert_pem.encode()))
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["api.demo.stacklab"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.40.0.5")]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku
    assert "PRIVATE KEY" in key_pem
    assert mode(ca.dir / "vip.key") == 0o600


def test_node_and_vip_certificates_differ_and_are_kept(ca: CA) -> None:
    vip = ca.issue("vip", dns=["api.demo.stacklab"], ips=["10.40.0.5"])
    node = ca.issue("ctl1", dns=["ctl1"], ips=["10.40.0.10"])
    assert node != vip
    node_cert = x509.load_pem_x509_certificate(node[1].encode())
    node_cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca.cert_pem.encode()))
    # Made once per name: a re-deploy gets the same key and certificate (no config churn).
    assert ca.issue("vip", dns=["api.demo.stacklab"], ips=["10.40.0.5"]) == vip


def test_ca_is_reused_from_its_directory(ca: CA) -> None:
    again = CA(ca.dir, "demo")
    assert again.cert_pem == ca.cert_pem
    _, cert_pem = again.issue("vip", dns=["api.demo.stacklab"], ips=["10.40.0.5"])
    x509.load_pem_x509_certificate(cert_pem.encode()).verify_directly_issued_by(ca.cert)


def test_a_certificate_from_another_ca_does_not_verify(tmp_path: Path, ca: CA) -> None:
    other = CA(tmp_path / "other", "other")
    _, cert_pem = other.issue("vip", dns=["api.demo.stacklab"], ips=["10.40.0.5"])
    with pytest.raises(Exception):  # noqa: B017 - cryptography raises InvalidSignature or ValueError
        x509.load_pem_x509_certificate(cert_pem.encode()).verify_directly_issued_by(ca.cert)


def test_secrets_are_stable_private_and_distinct(tmp_path: Path) -> None:
    s = Secrets(tmp_path / "secrets")
    pw = s.password("keystone_admin")
    assert pw == s.password("keystone_admin")
    assert Secrets(tmp_path / "secrets").password("keystone_admin") == pw  # survives a new process
    assert s.password("db_keystone") != pw
    assert len(pw) == 32 and pw.isalnum()
    assert mode(s.file) == 0o600


def test_fernet_keys_are_stable_32_byte_keys(tmp_path: Path) -> None:
    s = Secrets(tmp_path)
    key = s.fernet_key("fernet_0")
    assert key == s.fernet_key("fernet_0") != s.fernet_key("fernet_1")
    assert len(base64.urlsafe_b64decode(key)) == 32
    assert mode(s.file) == 0o600
