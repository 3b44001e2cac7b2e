"""A throwaway CA and a certificate for every Redis pod, made with the openssl CLI."""

from __future__ import annotations

import subprocess
from pathlib import Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, check=True, timeout=60)


def tls_secret(folder: Path, names: list[str]) -> dict[str, str]:
    """A kubernetes.io/tls Secret's data (tls.crt, tls.key, ca.crt) for DNS ``names``."""
    folder.mkdir(parents=True, exist_ok=True)
    curve = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *curve, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
             "-subj", "/CN=tradingstack-test-ca", cwd=folder)  # fmt: skip
    _openssl("req", *curve, "-keyout", "tls.key", "-out", "tls.csr", "-subj", "/CN=redis",
             cwd=folder)  # fmt: skip
    (folder / "san.ext").write_text("subjectAltName=" + ",".join(f"DNS:{n}" for n in names) + "\n")
    _openssl("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "tls.crt", "-days", "2", "-extfile", "san.ext",
             cwd=folder)  # fmt: skip
    return {key: (folder / key).read_text() for key in ("tls.crt", "tls.key", "ca.crt")}
