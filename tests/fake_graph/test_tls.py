"""The fake's TLS material: a CA, a loopback server certificate, client trust helpers."""

from __future__ import annotations

import ipaddress
import ssl
from pathlib import Path

from cryptography import x509

from fake_graph.tls import ca_bundle, ensure_tls_dir, issue_client_certificate, trust_env


def test_server_certificate_covers_loopback(fake_graph_tls_dir: Path) -> None:
    files = ensure_tls_dir(fake_graph_tls_dir)
    cert = x509.load_pem_x509_certificate(files.server_cert.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert set(sans.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}
    assert files.server_key.stat().st_mode & 0o077 == 0
    files.server_context()  # loads
    assert isinstance(files.client_context(), ssl.SSLContext)


def test_files_are_reused(tmp_path: Path) -> None:
    first = ensure_tls_dir(tmp_path)
    ca, server = first.ca.read_bytes(), first.server_cert.read_bytes()
    again = ensure_tls_dir(tmp_path)
    assert again.ca.read_bytes() == ca and again.server_cert.read_bytes() == server
    again.server_cert.unlink()  # a missing server certificate is re-issued by the same CA
    third = ensure_tls_dir(tmp_path)
    assert third.ca.read_bytes() == ca and third.server_cert.exists()


def test_bundle_and_env(fake_graph_tls_dir: Path, tmp_path: Path) -> None:
    files = ensure_tls_dir(fake_graph_tls_dir)
    system = tmp_path / "system.pem"
    system.write_text("# system bundle\n")
    bundle = ca_bundle(files, system)
    text = bundle.read_text()
    assert text.startswith("# system bundle\n") and text.endswith(files.ca.read_text())
    env = trust_env(bundle)
    assert env == {"REQUESTS_CA_BUNDLE": str(bundle), "SSL_CERT_FILE": str(bundle),
                   "CURL_CA_BUNDLE": str(bundle)}


def test_client_certificate() -> None:
    cert = issue_client_certificate("x")
    assert "BEGIN PRIVATE KEY" in cert.pem and "BEGIN CERTIFICATE" in cert.pem
    assert len(cert.thumbprint_sha1) == 40 and len(cert.thumbprint_sha256) == 64
