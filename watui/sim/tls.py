"""The simulator's throwaway TLS certificate: self-signed for web.whatsapp.com, localhost and 127.0.0.1.

Made with the ``openssl`` command line (no Python dependency) in a private temporary folder that is
removed as soon as the key is loaded. The SPKI hash lets Chromium trust exactly this certificate
(``--ignore-certificate-errors-spki-list``) instead of ignoring every certificate error.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import shutil
import ssl
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from watui.sim.errors import SimError

HOSTS = ("web.whatsapp.com", "localhost")
ADDRESSES = ("127.0.0.1", "::1")


class CertificateError(SimError):
    """The throwaway certificate could not be made (no openssl, or it failed)."""


@dataclass(frozen=True)
class Certificate:
    """A loaded server context and the base64 SHA-256 of the certificate's public key (SPKI)."""

    context: ssl.SSLContext
    spki_sha256: str
    pem: str


def _openssl() -> str:
    found = shutil.which("openssl")
    if found is None:
        raise CertificateError(
            "the simulator needs the 'openssl' command to make its certificate: "
            "install it (Debian: sudo apt-get install openssl)"
        )
    return found


def _run(args: list[str], stdin: bytes | None = None) -> bytes:
    done = subprocess.run(args, input=stdin, capture_output=True, check=False, timeout=30)
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip().splitlines()
        raise CertificateError(f"openssl failed making the simulator certificate: {detail[-1] if detail else '?'}")
    return done.stdout


def make_certificate(extra_hosts: tuple[str, ...] = ()) -> Certificate:
    """Blocking: make a P-256 key and a 2-day self-signed certificate, load them, delete the files."""
    openssl = _openssl()
    names = [f"DNS:{h}" for h in (*HOSTS, *extra_hosts)] + [f"IP:{a}" for a in ADDRESSES]
    with tempfile.TemporaryDirectory(prefix="watui-sim-tls-") as tmp:
        key, cert = Path(tmp) / "key.pem", Path(tmp) / "cert.pem"
        _run([
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "2", "-subj", "/CN=web.whatsapp.com/O=watui simulator",
            "-addext", "subjectAltName=" + ",".join(names),
            "-addext", "extendedKeyUsage=serverAuth",
            "-keyout", str(key), "-out", str(cert),
        ])  # fmt: skip
        der_key = _run([openssl, "x509", "-in", str(cert), "-pubkey", "-noout"])
        spki = _run([openssl, "pkey", "-pubin", "-outform", "DER"], stdin=der_key)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        pem = cert.read_text()
    return Certificate(context, base64.b64encode(hashlib.sha256(spki).digest()).decode(), pem)


async def make_certificate_async(extra_hosts: tuple[str, ...] = ()) -> Certificate:
    """``make_certificate`` off the event loop (it runs three short openssl processes)."""
    return await asyncio.to_thread(make_certificate, extra_hosts)
