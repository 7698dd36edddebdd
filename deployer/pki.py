"""Per-lab secrets and CA: nothing is a default, nothing lives in a template.

Everything is generated on first use and kept 0600 under the lab's state dir
(``/run/stacklab/<lab>/secrets``), so a re-deploy reuses the same passwords, keys and
certificates (idempotent) and ``stacklab down`` removes them with the lab.

>>> import tempfile; d = Path(tempfile.mkdtemp())
>>> s = Secrets(d); s.password("db_root") == s.password("db_root"), len(s.password("x"))
(True, 32)
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import os
import secrets
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_ISSUE_LOCK = threading.Lock()  # components issue certificates from per-node threads
VALIDITY = datetime.timedelta(days=30)  # a lab lives hours; a month is plenty and expiry stays visible


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


class Secrets:
    """Passwords and keys of one lab, generated once, stored 0600."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.file = directory / "secrets.json"
        self._lock = threading.Lock()  # deploy steps run per node in threads

    def _load(self) -> dict[str, str]:
        return json.loads(self.file.read_text()) if self.file.exists() else {}

    def _get(self, name: str, make: str) -> str:
        with self._lock:
            data = self._load()
            if name not in data:
                data[name] = make
                _write_private(self.file, json.dumps(data, indent=2).encode())
            return data[name]

    def password(self, name: str) -> str:
        """A 32-character random password (letters and digits: safe in every config syntax)."""
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        return self._get(name, "".join(secrets.choice(alphabet) for _ in range(32)))

    def fernet_key(self, name: str) -> str:
        """A Fernet key (urlsafe base64 of 32 random bytes), as keystone-manage would make."""
        return self._get(name, base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class CA:
    """The lab's certificate authority; issues server certificates for nodes and the VIP."""

    def __init__(self, directory: Path, lab: str) -> None:
        self.dir = directory
        self.lab = lab
        if not (directory / "ca.crt").exists():
            self._create()
        self.key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), None)
        self.cert = x509.load_pem_x509_certificate((directory / "ca.crt").read_bytes())

    @property
    def cert_pem(self) -> str:
        return (self.dir / "ca.crt").read_text()

    def _create(self) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"stacklab {self.lab} CA")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + VALIDITY)
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False,
                                             encipher_only=False, decipher_only=False), critical=True)
                .sign(key, hashes.SHA256()))
        _write_private(self.dir / "ca.key", _pem_key(key))
        _write_private(self.dir / "ca.crt", cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, name: str, dns: list[str], ips: list[str]) -> tuple[str, str]:
        """(key PEM, certificate PEM) for a server; made once per name and kept."""
        key_path, crt_path = self.dir / f"{name}.key", self.dir / f"{name}.crt"
        with _ISSUE_LOCK:
            if not crt_path.exists():
                self._issue(name, dns, ips, key_path, crt_path)
        return key_path.read_text(), crt_path.read_text()

    def _issue(self, name: str, dns: list[str], ips: list[str], key_path: Path, crt_path: Path) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
        sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns[0] if dns else name)]))
                .issuer_name(self.cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + VALIDITY)
                .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .sign(self.key, hashes.SHA256()))  # type: ignore[arg-type]
        _write_private(key_path, _pem_key(key))
        _write_private(crt_path, cert.public_bytes(serialization.Encoding.PEM))
