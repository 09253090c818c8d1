"""Personal data of families at rest: encrypted columns (Fernet, key rotation with several keys)
and a keyed pseudonym that recognises the same family again without storing who it is."""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator

_NULL_TESTS = (operators.is_, operators.is_not)
_EQUALITY = (operators.eq, operators.ne)


class VaultError(RuntimeError):
    pass


class Vault:
    """Encrypts with the first key, decrypts with any (newest first: rotate by prepending)."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise VaultError("no data key configured (DATA_KEYS)")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        except ValueError as exc:
            raise VaultError("DATA_KEYS holds a key that is not a Fernet key") from exc
        self._pseudonym_key = hashlib.sha256(b"meegaan-family-key\0" + keys[-1].encode()).digest()

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise VaultError("cannot decrypt: the data key is missing or wrong") from exc

    def pseudonym(self, value: str) -> str:
        """The same normalised contact gives the same value; it cannot be turned back."""
        return hmac.new(self._pseudonym_key, value.encode(), hashlib.sha256).hexdigest()


_vault: Vault | None = None


def configure(keys: list[str]) -> Vault:
    global _vault
    _vault = Vault(keys)
    return _vault


def vault() -> Vault:
    if _vault is None:
        raise VaultError("the vault is not configured: create_app() does it")
    return _vault


def instance_key(instance_path: str) -> str:
    """A key kept in the instance folder (made once, readable by its owner only): what a
    single machine uses when DATA_KEYS is not set. Losing it loses the families' details."""
    path = Path(instance_path) / "data.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(Fernet.generate_key().decode())
    return path.read_text().strip()


class EncryptedText(TypeDecorator[str]):
    """A text column stored encrypted; reads give the plain text back.

    Each write encrypts anew (Fernet adds a random IV), so SQL cannot compare or search the
    column: `==`, `IN` or `LIKE` on it would silently match nothing, and raise instead. Only
    `IS NULL` / `IS NOT NULL` work; filter in Python, or keep a keyed pseudonym to look up.
    """

    impl = Text
    cache_ok = True

    class comparator_factory(TypeDecorator.Comparator[str]):  # the name SQLAlchemy looks for
        def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
            if op in _NULL_TESTS or (op in _EQUALITY and other and other[0] is None):
                return super().operate(op, *other, **kwargs)
            raise TypeError("an encrypted column cannot be compared in SQL")

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else vault().encrypt(str(value))

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else vault().decrypt(value)
