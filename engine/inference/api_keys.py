"""API keys of HTTP models: from an environment variable or the OS keyring, never the database.

A model row stores only the *name* of an environment variable (``api_key_env``). Without
one, the key is looked up in the OS keyring (the ``keyring`` package: macOS Keychain,
Windows Credential Locker, Secret Service on Linux) under service
:data:`KEYRING_SERVICE` and the model's name. Keys are never logged.
"""

from __future__ import annotations

import logging
import os

from engine.errors import WorkbenchError

log = logging.getLogger(__name__)

KEYRING_SERVICE = "neuroonco-workbench"


def resolve_api_key(model_name: str, api_key_env: str | None = None) -> str | None:
    """Return the key for ``model_name``, or None when neither source has one.

    Raises WorkbenchError when ``api_key_env`` names a variable that is not set, because
    the user registered the model as needing it.
    """
    if api_key_env:
        value = os.environ.get(api_key_env)
        if not value:
            raise WorkbenchError(f"environment variable {api_key_env} (the API key of model "
                                 f"'{model_name}') is not set; export it before running")
        return value
    import keyring
    from keyring.errors import KeyringError

    try:
        return keyring.get_password(KEYRING_SERVICE, model_name)
    except KeyringError as error:
        log.debug("no key for model %s from the OS keyring: %s", model_name, error)
        return None


def store_api_key(model_name: str, key: str) -> None:
    """Save ``key`` for ``model_name`` in the OS keyring; raise WorkbenchError if there is none."""
    import keyring
    from keyring.errors import KeyringError

    if not key:
        raise WorkbenchError("the API key is empty; nothing was stored")
    try:
        keyring.set_password(KEYRING_SERVICE, model_name, key)
    except KeyringError as error:
        raise WorkbenchError(f"the OS keyring cannot store the key ({error}); put the key in an "
                             "environment variable and register the model with --api-key-env") from None


def delete_api_key(model_name: str) -> bool:
    """Remove the keyring entry of ``model_name``; return False if there was none."""
    import keyring
    from keyring.errors import KeyringError, PasswordDeleteError

    try:
        keyring.delete_password(KEYRING_SERVICE, model_name)
    except PasswordDeleteError:
        return False
    except KeyringError as error:
        log.debug("cannot delete the keyring entry of model %s: %s", model_name, error)
        return False
    return True
