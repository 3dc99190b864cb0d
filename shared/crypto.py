"""Encryption at rest for webhook secrets and reporters' contacts (AES-256-GCM).

The key comes from settings (`SECRETS_KEY`, base64 of 32 bytes); any other string is stretched
with SHA-256 so a local stack can use a passphrase. Each value gets a fresh 96-bit nonce.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = b"\x01"


def _key(material: str) -> bytes:
    try:
        raw = base64.b64decode(material, validate=True)
        if len(raw) == 32:
            return raw
    except (binascii.Error, ValueError):
        pass
    return hashlib.sha256(material.encode()).digest()


class SecretBox:
    def __init__(self, key_material: str) -> None:
        if not key_material:
            raise ValueError("SECRETS_KEY is not set")
        self._aead = AESGCM(_key(key_material))

    def seal(self, plaintext: str, context: str = "") -> bytes:
        nonce = os.urandom(12)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext.encode(), context.encode())

    def open(self, sealed: bytes, context: str = "") -> str:
        if sealed[:1] != _VERSION:
            raise ValueError("unknown sealed format")
        nonce, ciphertext = sealed[1:13], sealed[13:]
        return self._aead.decrypt(nonce, ciphertext, context.encode()).decode()


def resident_ref(key_material: str, subject: str) -> str:
    """A keyed pseudonym of a resident's token subject: the same for every service holding
    `RESIDENT_REF_KEY`, so events can say "this resident" without carrying the subject."""
    if not key_material:
        raise ValueError("RESIDENT_REF_KEY is not set")
    digest = hmac.new(_key(key_material), subject.encode(), hashlib.sha256).hexdigest()
    return f"r_{digest[:40]}"
