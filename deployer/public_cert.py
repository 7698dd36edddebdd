"""The operator's certificate for the API VIP, checked with the lab file, before anything
is built: it must carry the VIP's public name, come with its whole chain up to a root
(every node trusts that root), match its key and be valid now.

Paths in the lab file are relative to it; ``resolve`` makes them absolute so the deploy
reads the same files wherever it runs from.

>>> check_public_cert(Tls(), FsPath("."), "10.0.0.5")
[]
>>> [p.message for p in check_public_cert(Tls(public_cert="a.pem"), FsPath("."), "10.0.0.5")]
["public_cert needs public_key (its private key) and public_name (the VIP's DNS name it carries)"]
"""

from __future__ import annotations

import datetime
import itertools
from pathlib import Path as FsPath

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from deployer.model import Cloud, Tls
from lab.problems import Path, Problem

BASE: Path = ("cloud", "tls")
RENEW_DAYS = 7  # fewer days left than this is a warning: a lab may outlive it


def resolve(cloud: Cloud, folder: FsPath) -> Cloud:
    """``cloud`` with the certificate paths made absolute (relative to ``folder``)."""
    tls = cloud.tls
    paths = {k: str((folder / v).resolve()) for k, v in (("public_cert", tls.public_cert),
                                                         ("public_key", tls.public_key)) if v}
    return cloud.model_copy(update={"tls": tls.model_copy(update=paths)}) if paths else cloud


def check_public_cert(tls: Tls, folder: FsPath, vip: str,
                      now: datetime.datetime | None = None) -> list[Problem]:
    """Every problem of the operator's certificate, each at the key it comes from."""
    given = [tls.public_cert, tls.public_key, tls.public_name]
    if not tls.public_cert and not tls.public_key:
        return []
    if not all(given):
        given_key = "public_cert" if tls.public_cert else "public_key"
        return [Problem(BASE + (given_key,), "public_cert needs public_key (its private key) and public_name "
                        "(the VIP's DNS name it carries)")]
    assert tls.public_cert and tls.public_key and tls.public_name
    chain, problems = _read_chain(folder / tls.public_cert)
    key, key_problems = _read_key(folder / tls.public_key)
    problems += key_problems
    if not chain:
        return problems
    when = now or datetime.datetime.now(datetime.UTC)
    problems += _check_names(chain[0], tls.public_name, vip)
    problems += _check_chain(chain)
    problems += _check_dates(chain, when)
    if key is not None and key.public_key().public_bytes(*_SPKI) != chain[0].public_key().public_bytes(*_SPKI):
        problems.append(Problem(BASE + ("public_key",), f"{tls.public_key} is not the key of the certificate in "
                                f"{tls.public_cert} (subject {chain[0].subject.rfc4514_string()})"))
    return problems


_SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _read_chain(path: FsPath) -> tuple[list[x509.Certificate], list[Problem]]:
    where = BASE + ("public_cert",)
    try:
        data = path.read_bytes()
    except OSError as e:
        return [], [Problem(where, f"cannot read {path}: {e.strerror}")]
    try:
        chain = x509.load_pem_x509_certificates(data)
    except ValueError:
        return [], [Problem(where, f"{path} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)")]
    return chain, []


def _read_key(path: FsPath) -> tuple[PrivateKeyTypes | None, list[Problem]]:
    where = BASE + ("public_key",)
    try:
        data = path.read_bytes()
    except OSError as e:
        return None, [Problem(where, f"cannot read {path}: {e.strerror}")]
    try:
        return serialization.load_pem_private_key(data, password=None), []
    except (ValueError, TypeError) as e:
        return None, [Problem(where, f"{path} is not an unencrypted PEM private key ({e})")]


def _check_names(leaf: x509.Certificate, name: str, vip: str) -> list[Problem]:
    try:
        sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [Problem(BASE + ("public_cert",), "the certificate has no subjectAltName: clients match names "
                        f"there only; it needs DNS:{name}")]
    dns = sans.get_values_for_type(x509.DNSName)
    ips = [str(a) for a in sans.get_values_for_type(x509.IPAddress)]
    if any(_matches(pattern, name) for pattern in dns):
        return []
    return [Problem(BASE + ("public_name",), f"the certificate is for {', '.join(dns + ips) or 'no name'}, not "
                    f"'{name}' (the VIP's public name; VIP {vip})")]


def _matches(pattern: str, name: str) -> bool:
    """RFC 6125: a wildcard stands for exactly the leftmost label."""
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if pattern.startswith("*."):
        return "." in name and name.split(".", 1)[1] == pattern[2:]
    return pattern == name


def _check_chain(chain: list[x509.Certificate]) -> list[Problem]:
    where = BASE + ("public_cert",)
    for child, parent in itertools.pairwise(chain):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature):
            return [Problem(where, f"chain broken: '{child.subject.rfc4514_string()}' is not issued by the next "
                            f"certificate in the file, '{parent.subject.rfc4514_string()}' (order: leaf first, "
                            "then each issuer, up to the root)")]
    root = chain[-1]
    try:
        root.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature):
        return [Problem(where, f"chain incomplete: it ends at '{root.subject.rfc4514_string()}', issued by "
                        f"'{root.issuer.rfc4514_string()}', which is not in the file; append the issuer "
                        "certificates up to the self-signed root (every lab node trusts that root)")]
    return []


def _check_dates(chain: list[x509.Certificate], now: datetime.datetime) -> list[Problem]:
    where = BASE + ("public_cert",)
    for cert in chain:
        subject = cert.subject.rfc4514_string()
        if cert.not_valid_after_utc <= now:
            return [Problem(where, f"'{subject}' expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")]
        if cert.not_valid_before_utc > now:
            return [Problem(where, f"'{subject}' is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC")]
    left = min(c.not_valid_after_utc for c in chain) - now
    if left < datetime.timedelta(days=RENEW_DAYS):
        return [Problem(where, f"expires in {left.total_seconds() / 86400:.1f} days", warning=True)]
    return []

