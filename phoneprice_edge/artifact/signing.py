"""Ed25519 signatures over an artifact's manifest digest (manifest.sig), with `cryptography`."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from phoneprice_edge.artifact.manifest import SIGNATURE, Manifest
from phoneprice_edge.errors import ArtifactError, BackendUnavailable, UsageError
from phoneprice_edge.io_utils import atomic_write_bytes, atomic_write_json

SIGNATURE_FORMAT = "phoneprice_edge.signature/1"
ENV_KEY = "PE_VERIFY_KEY"  # a public key file: every loader then refuses unsigned artifacts


def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:
        raise BackendUnavailable("signing needs the cryptography package: "
                                 "pip install cryptography") from None
    return serialization, ed25519


def _message(digest: str) -> bytes:
    return f"{SIGNATURE_FORMAT}\n{digest}".encode()


def key_id(public_key: Any) -> str:
    """The first 16 hex digits of the sha256 of the raw public key (names the key in messages)."""
    serialization, _ = _crypto()
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_key(path: str | Path) -> tuple[Path, Path]:
    """Write a new Ed25519 private key (PEM, PKCS8, mode 0600) to path and its public key to
    path.pub; refuse to overwrite either."""
    serialization, ed25519 = _crypto()
    path = Path(path)
    pub = path.with_name(path.name + ".pub")
    for p in (path, pub):
        if p.exists():
            raise UsageError(f"{p}: exists; not overwriting a key")
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    atomic_write_bytes(path, pem)
    os.chmod(path, 0o600)
    atomic_write_bytes(pub, key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return path, pub


def _read_pem(path: str | Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the {what} ({exc.strerror})") from None


def load_private_key(path: str | Path) -> Any:
    """An Ed25519 private key from a PEM file; UsageError for anything else."""
    serialization, ed25519 = _crypto()
    try:
        key = serialization.load_pem_private_key(_read_pem(path, "signing key"), password=None)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{path}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise UsageError(f"{path}: not an Ed25519 key (pe keygen writes one)")
    return key


def load_public_key(path: str | Path) -> Any:
    """An Ed25519 public key from a PEM file (a private key file gives its public half)."""
    serialization, ed25519 = _crypto()
    data = _read_pem(path, "verify key")
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        return load_private_key(path).public_key()
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise UsageError(f"{path}: not an Ed25519 public key (pe keygen writes one)")
    return key


def sign(folder: str | Path, manifest: Manifest, key_path: str | Path) -> Path:
    """Write folder/manifest.sig: the Ed25519 signature of the manifest digest."""
    key = load_private_key(key_path)
    sig = key.sign(_message(manifest.digest))
    return atomic_write_json(Path(folder) / SIGNATURE, {
        "format": SIGNATURE_FORMAT, "algorithm": "ed25519", "key_id": key_id(key.public_key()),
        "digest": manifest.digest, "signature": base64.b64encode(sig).decode()})


def configured_key(verify_key: str | Path | None) -> Path | None:
    """The public key loaders check against: the option, else $PE_VERIFY_KEY, else None."""
    if verify_key:
        return Path(verify_key)
    env = os.environ.get(ENV_KEY, "").strip()
    return Path(env) if env else None


def check_signature(folder: str | Path, manifest: Manifest, key_path: str | Path) -> str:
    """ArtifactError unless folder/manifest.sig signs this manifest's digest with the key; returns
    the key id."""
    from cryptography.exceptions import InvalidSignature

    public = load_public_key(key_path)
    want_id = key_id(public)
    path = Path(folder) / SIGNATURE
    if not path.is_file():
        raise ArtifactError(f"{folder}: not signed (no {SIGNATURE}) but a verify key is configured "
                            f"({key_path}); sign it with `pe sign {folder} --key KEY`")
    try:
        sig = json.loads(path.read_text(encoding="utf-8"))
        raw = base64.b64decode(sig["signature"], validate=True)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"{path}: unreadable signature file ({exc})") from None
    if sig.get("key_id") != want_id:
        raise ArtifactError(f"{folder}: signed by key {sig.get('key_id')}, not by the configured "
                            f"key {want_id} ({key_path})")
    try:
        public.verify(raw, _message(manifest.digest))
    except InvalidSignature:
        raise ArtifactError(f"{folder}: signature does not match the manifest (modified after "
                            f"signing?)") from None
    return want_id
