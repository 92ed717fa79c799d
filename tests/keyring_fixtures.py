"""An in-process keyring for tests that store API keys, so they never touch the user's keyring."""

from __future__ import annotations

import keyring
import pytest
from keyring.backend import KeyringBackend


class MemoryKeyring(KeyringBackend):
    """A keyring backend that keeps passwords in a dict."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):  # noqa: ANN001
        return self.passwords.get((service, username))

    def set_password(self, service, username, password):  # noqa: ANN001
        self.passwords[(service, username)] = password

    def delete_password(self, service, username):  # noqa: ANN001
        self.passwords.pop((service, username))


@pytest.fixture
def memory_keyring():
    """Install a MemoryKeyring for one test and restore the previous backend afterwards."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)
