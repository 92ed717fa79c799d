"""Job kinds of the job engine itself."""

from __future__ import annotations

import time

from engine.jobs.registry import job_kind


@job_kind("selftest.count",
          description="Count to 'total' with 'interval' seconds per unit (checks a worker end to end)")
def count(db, params, progress):
    """Count units with one progress call each, so cancel and crash handling can be checked."""
    total = int(params.get("total", 10))
    interval = float(params.get("interval", 0.1))
    progress.start(total, "counting")
    for unit in range(total):
        time.sleep(interval)
        progress.advance(message=f"counted {unit + 1} of {total}")
    return {"counted": total}
