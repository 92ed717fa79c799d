"""Log levels of third-party loggers that are too talkative at INFO."""

from __future__ import annotations

import logging

# alembic logs one "setup plugin" line per plugin and its migration context at every database
# open; absl (through rouge-score) logs "Using default tokenizer." for every ROUGE scorer built.
NOISY_LOGGERS = ("alembic", "absl")


def quiet_noisy_loggers() -> None:
    """Set the loggers in NOISY_LOGGERS to WARNING, so INFO output shows our own messages."""
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
