"""Amazon SNS signing certificates: fetched only over https from an SNS host, then cached.

A certificate is kept in memory and in a folder (one ``<sha256 of the URL>.pem`` file each), so
each instance fetches a certificate once, and an operator (or a test) can place one there
beforehand. The https fetch checks the server's TLS certificate against the system's trust
store, so what we cache came from Amazon's own host.
"""

import hashlib
import os
import threading
import urllib.request
from collections.abc import Callable

from app.core.delivery_providers import sns_url_allowed

MAX_CERTIFICATE_BYTES = 64 * 1024


class CertificateError(Exception):
    """A signing certificate could not be had from an allowed URL."""


def fetch_https(url: str, timeout: float = 10.0) -> bytes:
    """Return the body of an https GET to an SNS host (urllib checks the TLS certificate)."""
    if not sns_url_allowed(url):
        raise CertificateError(f"refusing to fetch {url!r}: not https on an SNS host")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (https only)
            return response.read(MAX_CERTIFICATE_BYTES + 1)
    except OSError as error:
        raise CertificateError(f"could not fetch {url}: {error}") from error


class CertificateCache:
    """SNS signing certificates by URL: memory, then the folder, then one fetch."""

    def __init__(self, folder: str, fetch: Callable[[str], bytes] = fetch_https):
        self.folder = folder
        self.fetch = fetch
        self._known: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def path(self, url: str) -> str:
        """Return the file a URL's certificate is cached in."""
        return os.path.join(self.folder, hashlib.sha256(url.encode()).hexdigest() + ".pem")

    def certificate(self, url: str) -> bytes:
        """Return the PEM certificate at an allowed URL; raise CertificateError otherwise."""
        if not sns_url_allowed(url):
            raise CertificateError(f"{url!r} is not https on an SNS host")
        with self._lock:
            if url in self._known:
                return self._known[url]
        path = self.path(url)
        try:
            with open(path, "rb") as file:
                pem = file.read()
        except FileNotFoundError:
            pem = self.fetch(url)
            if len(pem) > MAX_CERTIFICATE_BYTES or b"-----BEGIN CERTIFICATE-----" not in pem:
                raise CertificateError(f"{url} did not answer with a PEM certificate") from None
            os.makedirs(self.folder, exist_ok=True)
            temporary = f"{path}.{os.getpid()}.tmp"
            with open(temporary, "wb") as file:
                file.write(pem)
            os.replace(temporary, path)
        with self._lock:
            self._known[url] = pem
        return pem
