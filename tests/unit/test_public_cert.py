"""The operator's certificate for the API VIP (cloud.tls) is checked with the lab file,
before anything is built: each fault is refused at file:line of the key it comes from,
naming what is wrong; a good chain passes and its paths become absolute."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from stacklab.validate import validate_file

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime.datetime.now(datetime.UTC)
DAY = datetime.timedelta(days=1)
Key = ec.EllipticCurvePrivateKey


def name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make(cn: str, issuer: tuple[str, Key] | None, *, dns: tuple[str, ...] = (), ca: bool = False,
         days: tuple[int, int] = (-1, 90)) -> tuple[x509.Certificate, Key]:
    key = ec.generate_private_key(ec.SECP256R1())
    issuer_name, issuer_key = issuer or (cn, key)
    builder = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(name(issuer_name))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(NOW + days[0] * DAY).not_valid_after(NOW + days[1] * DAY)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if dns:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256()), key


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def key_pem(key: Key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.fixture
def pki() -> dict[str, tuple[x509.Certificate, Key]]:
    root = make("Operator Root", None, ca=True, days=(-10, 3650))
    inter = make("Operator Issuing", ("Operator Root", root[1]), ca=True, days=(-10, 1000))
    leaf = make("cloud.example.org", ("Operator Issuing", inter[1]), dns=("cloud.example.org",))
    return {"root": root, "inter": inter, "leaf": leaf}


def lab_file(tmp_path: Path, chain: bytes, key: bytes, public_name: str = "cloud.example.org") -> Path:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs/api.pem").write_bytes(chain)
    (tmp_path / "certs/api.key").write_bytes(key)
    text = (ROOT / "scenarios/labs/control.yaml").read_text()
    text += ("  tls:\n    public_cert: certs/api.pem\n    public_key: certs/api.key\n"
             f"    public_name: {public_name}\n")
    path = tmp_path / "control.yaml"
    path.write_text(text)
    return path


def line_of(path: Path, key: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if line.strip().startswith(key + ":"))


def refused(path: Path, key: str) -> str:
    result = validate_file(path)
    assert not result.ok and result.cloud is None
    where = f"{path}:{line_of(path, key)}: cloud.tls.{key}: "
    found = [m for m in result.messages if m.startswith(where)]
    assert found, result.messages
    return found[0][len(where):]


def test_a_complete_chain_for_the_name_passes_with_absolute_paths(tmp_path: Path, pki: dict) -> None:
    (leaf, key), (inter, _), (root, _) = pki["leaf"], pki["inter"], pki["root"]
    result = validate_file(lab_file(tmp_path, pem(leaf, inter, root), key_pem(key)))
    assert result.ok, result.messages
    assert result.cloud is not None and result.cloud.tls.public_cert == str(tmp_path / "certs/api.pem")


def test_a_certificate_for_another_name_is_refused(tmp_path: Path, pki: dict) -> None:
    (leaf, key), (inter, _), (root, _) = pki["leaf"], pki["inter"], pki["root"]
    path = lab_file(tmp_path, pem(leaf, inter, root), key_pem(key), public_name="api.other.org")
    message = refused(path, "public_name")
    assert "cloud.example.org" in message and "'api.other.org'" in message


def test_a_chain_without_its_intermediate_is_refused(tmp_path: Path, pki: dict) -> None:
    (leaf, key), (root, _) = pki["leaf"], pki["root"]
    message = refused(lab_file(tmp_path, pem(leaf, root), key_pem(key)), "public_cert")
    assert message.startswith("chain broken") and "Operator Issuing" not in message.split("issued by")[0]


def test_a_chain_without_its_root_is_refused(tmp_path: Path, pki: dict) -> None:
    (leaf, key), (inter, _) = pki["leaf"], pki["inter"]
    message = refused(lab_file(tmp_path, pem(leaf, inter), key_pem(key)), "public_cert")
    assert message.startswith("chain incomplete") and "Operator Root" in message


def test_an_expired_certificate_is_refused(tmp_path: Path, pki: dict) -> None:
    (inter, inter_key), (root, _) = pki["inter"], pki["root"]
    leaf, key = make("cloud.example.org", ("Operator Issuing", inter_key), dns=("cloud.example.org",), days=(-30, -1))
    message = refused(lab_file(tmp_path, pem(leaf, inter, root), key_pem(key)), "public_cert")
    assert "expired on" in message


def test_a_key_of_another_certificate_is_refused(tmp_path: Path, pki: dict) -> None:
    (leaf, _), (inter, inter_key), (root, _) = pki["leaf"], pki["inter"], pki["root"]
    message = refused(lab_file(tmp_path, pem(leaf, inter, root), key_pem(inter_key)), "public_key")
    assert "is not the key of the certificate" in message


def test_unreadable_files_are_refused_by_name(tmp_path: Path, pki: dict) -> None:
    path = lab_file(tmp_path, b"not a certificate\n", b"not a key\n")
    assert "holds no PEM certificate" in refused(path, "public_cert")
    assert "not an unencrypted PEM private key" in refused(path, "public_key")
    (tmp_path / "certs/api.pem").unlink()
    assert "cannot read" in refused(path, "public_cert")


def test_a_certificate_without_its_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "control.yaml"
    path.write_text((ROOT / "scenarios/labs/control.yaml").read_text() + "  tls:\n    public_cert: a.pem\n")
    assert "needs public_key" in refused(path, "public_cert")
