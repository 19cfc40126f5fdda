"""TLS for the fake: a generated CA, a server certificate for loopback, and client trust.

MSAL and azure-identity refuse plain-http authorities (MSAL's ``canonicalize`` in
``msal/authority.py``; azure-identity's ``normalize_authority``), so
the fake serves HTTPS with its own CA. Keys are RSA 2048: requests (MSAL, sync azure-identity),
aiohttp (aio azure-identity) and httpx (msgraph-sdk) all accept them, and client *assertion*
certificates must be RSA anyway (RS256 / PS256).

Trusting the fake: pass ``ca.pem`` explicitly (``verify=`` / ``connection_verify=`` /
an ``httpx`` or ``ssl`` context), or build a bundle (system CAs + fake CA) with ``ca_bundle``
and export ``trust_env(bundle)``. The machine's ambient ``REQUESTS_CA_BUNDLE`` /
``CURL_CA_BUNDLE`` override a requests ``verify=`` argument (requests'
``Session.merge_environment_settings``), which is why the
bundle helper exists.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .tokens import b64url

SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CA_FILE, CA_KEY_FILE = "ca.pem", "ca-key.pem"
SERVER_FILE, SERVER_KEY_FILE = "server.pem", "server-key.pem"
BUNDLE_FILE = "bundle.pem"
SERVER_NAMES = ("localhost",)
SERVER_IPS = ("127.0.0.1", "::1")
_VALIDITY = dt.timedelta(days=825)


@dataclass(frozen=True)
class TlsFiles:
    """The files of one TLS directory."""

    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / CA_FILE

    @property
    def ca_key(self) -> Path:
        return self.directory / CA_KEY_FILE

    @property
    def server_cert(self) -> Path:
        return self.directory / SERVER_FILE

    @property
    def server_key(self) -> Path:
        return self.directory / SERVER_KEY_FILE

    def server_context(self) -> ssl.SSLContext:
        """An ``SSLContext`` for the fake's listening socket."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.server_cert, self.server_key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """An ``SSLContext`` that trusts the fake (and only the fake)."""
        return ssl.create_default_context(cafile=str(self.ca))


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write_private(path: Path, data: bytes) -> None:
    # Private keys: owner-only, created that way (no window where they are world-readable).
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fake_graph"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _still_valid(path: Path) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return False
    return cert.not_valid_after_utc > dt.datetime.now(dt.UTC) + dt.timedelta(days=1)


def _make_ca(files: TlsFiles) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = _new_key()
    now = dt.datetime.now(dt.UTC)
    name = _name("fake_graph local CA")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    files.ca.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(files.ca_key, _key_pem(key))
    return cert, key


def _load_ca(files: TlsFiles) -> tuple[x509.Certificate, rsa.RSAPrivateKey] | None:
    try:
        cert = x509.load_pem_x509_certificate(files.ca.read_bytes())
        key = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
    except (OSError, ValueError):
        return None
    if not isinstance(key, rsa.RSAPrivateKey) or not _still_valid(files.ca):
        return None
    return cert, key


def _make_server(files: TlsFiles, ca_cert: x509.Certificate, ca_key: rsa.RSAPrivateKey) -> None:
    key = _new_key()
    now = dt.datetime.now(dt.UTC)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in SERVER_NAMES]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in SERVER_IPS]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost")).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + _VALIDITY)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files.server_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(files.server_key, _key_pem(key))


def ensure_tls_dir(directory: str | Path) -> TlsFiles:
    """Create (or reuse) ``ca.pem``, ``server.pem`` and ``server-key.pem`` in ``directory``.

    Existing files are reused while they are valid, so a client that trusted ``ca.pem`` once
    keeps trusting the fake across restarts. ``ca-key.pem`` is kept to re-issue the server
    certificate without changing the CA.
    """
    files = TlsFiles(Path(directory))
    files.directory.mkdir(parents=True, exist_ok=True)
    ca = _load_ca(files)
    fresh_ca = ca is None
    if ca is None:
        ca = _make_ca(files)
    if fresh_ca or not (_still_valid(files.server_cert) and files.server_key.exists()):
        _make_server(files, *ca)
    return files


def ca_bundle(files: TlsFiles, system_bundle: Path = SYSTEM_BUNDLE) -> Path:
    """``DIR/bundle.pem``: the system CA bundle (if present) followed by the fake's CA."""
    parts = []
    if system_bundle.exists():
        parts.append(system_bundle.read_bytes().rstrip(b"\n") + b"\n")
    parts.append(files.ca.read_bytes())
    bundle = files.directory / BUNDLE_FILE
    bundle.write_bytes(b"".join(parts))
    return bundle


def trust_env(bundle: str | Path) -> dict[str, str]:
    """Environment variables that make requests, aiohttp and httpx all trust ``bundle``.

    ``SSL_CERT_FILE`` only reaches aiohttp if set before aiohttp is imported (aiohttp builds its
    default SSL context at import):
    apply these to a child process's environment, not to a running interpreter.
    """
    path = str(bundle)
    return {"REQUESTS_CA_BUNDLE": path, "SSL_CERT_FILE": path, "CURL_CA_BUNDLE": path}


@dataclass(frozen=True)
class ClientCertificate:
    """An RSA certificate and key for ``CertificateCredential`` / MSAL client assertions."""

    cert_pem: str
    key_pem: str
    thumbprint_sha1: str  # hex, upper case, as the Entra portal shows it
    thumbprint_sha256: str

    @property
    def pem(self) -> str:
        """Key and certificate in one PEM, the form ``certificate_path`` expects."""
        return self.key_pem + self.cert_pem

    @property
    def x5t(self) -> str:
        return b64url(bytes.fromhex(self.thumbprint_sha1))

    @property
    def x5t_s256(self) -> str:
        return b64url(bytes.fromhex(self.thumbprint_sha256))


def issue_client_certificate(common_name: str = "fake_graph client",
                             days: int = 365) -> ClientCertificate:
    """A self-signed RSA certificate, as one uploads to an Entra app registration."""
    key = _new_key()
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name)).issuer_name(_name(common_name))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return ClientCertificate(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        key_pem=_key_pem(key).decode("ascii"),
        thumbprint_sha1=cert.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303 - x5t is SHA-1 by definition
        thumbprint_sha256=cert.fingerprint(hashes.SHA256()).hex().upper(),
    )
