"""The training process: ``python -m engine.finetune.runner --run-id N``.

Started detached by ``neuroonco finetune start`` / ``resume`` (or the GUI), once per GPU
through ``accelerate launch`` when several GPUs train. The database URL comes from
``--db`` or ``NEUROONCO_DB_URL``. Exit status: 0 when the run finished or was cancelled,
1 when it failed (the run row's message gives the reason and the log the traceback).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from typing import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.finetune.runner",
                                     description="Train one fine-tuning run of the database.")
    parser.add_argument("--run-id", type=int, required=True, help="the training_run id")
    parser.add_argument("--db", metavar="URL", help="database URL (default: $NEUROONCO_DB_URL)")
    args = parser.parse_args(argv)

    rank = os.environ.get("RANK", "0")
    # Rank 0 logs the run; the other processes only their warnings and errors.
    logging.basicConfig(level=logging.INFO if rank == "0" else logging.WARNING, stream=sys.stderr,
                        format=f"%(asctime)s rank{rank} %(levelname)s %(name)s: %(message)s")
    _quiet_libraries()

    from db.session import open_database
    from engine.errors import WorkbenchError
    from engine.finetune.training import run_training

    db = open_database(args.db, upgrade=rank == "0")
    try:
        run_training(db, args.run_id)
    except WorkbenchError as error:
        logging.getLogger("engine.finetune").error("run %s failed: %s", args.run_id, error)
        return 1
    except Exception:  # noqa: BLE001 - recorded on the run row and logged with the traceback
        return 1
    finally:
        db.dispose()
    return 0


def _quiet_libraries() -> None:
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # peft 0.21 calls a transformers 5 method that warns about its own deprecation.
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    # Weight-loading progress bars would fill the run's log with carriage returns.
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_warning()
    except ImportError:
        pass


if __name__ == "__main__":
    sys.exit(main())
