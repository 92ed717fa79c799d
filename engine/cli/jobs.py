"""``neuroonco worker`` and ``neuroonco jobs list|cancel|log|resume``."""

from __future__ import annotations

import argparse
import logging

from engine.cli.common import database, print_json
from engine.jobs import queue
from engine.jobs.worker import WorkerLoop, install_signal_handlers


def register(subparsers) -> None:  # noqa: ANN001
    worker = subparsers.add_parser("worker", help="run queued background jobs")
    worker.add_argument("--once", action="store_true", help="run at most one job, then exit")
    worker.add_argument("--idle-exit", type=float, metavar="SECONDS",
                        help="exit after this many seconds with no queued job")
    worker.add_argument("--poll", type=float, default=0.5, metavar="SECONDS",
                        help="how often to look for queued jobs (default 0.5)")
    worker.set_defaults(handler=_worker)

    jobs = subparsers.add_parser("jobs", help="list, cancel, resume background jobs or show a log")
    actions = jobs.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    listing = actions.add_parser("list", help="list recent jobs")
    listing.add_argument("--state", action="append",
                         choices=["queued", "running", "succeeded", "failed", "cancelled"])
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_list)
    cancel = actions.add_parser("cancel", help="cancel a queued or running job")
    cancel.add_argument("job_id", type=int)
    cancel.set_defaults(handler=_cancel)
    show_log = actions.add_parser("log", help="print a job's log")
    show_log.add_argument("job_id", type=int)
    show_log.set_defaults(handler=_log)
    resume = actions.add_parser("resume", help="queue a failed or cancelled job again")
    resume.add_argument("job_id", type=int)
    resume.set_defaults(handler=_resume)
    submit = actions.add_parser("submit", help="queue a job of a given kind (JSON parameters)")
    submit.add_argument("kind")
    submit.add_argument("--params", default="{}", help="JSON object of parameters")
    submit.set_defaults(handler=_submit)


def _worker(args: argparse.Namespace) -> int:
    logging.getLogger().setLevel(logging.DEBUG if args.debug else logging.INFO)
    loop = WorkerLoop(database(args), poll_interval=args.poll, idle_exit_s=args.idle_exit,
                      max_jobs=1 if args.once else None)
    install_signal_handlers(loop)
    loop.run()
    return 0


def _job_dict(job) -> dict:  # noqa: ANN001
    return {
        "id": job.id, "kind": job.kind, "state": job.state,
        "progress": [job.progress_done, job.progress_total], "message": job.message,
        "created_at": job.created_at, "finished_at": job.finished_at,
    }


def _list(args: argparse.Namespace) -> int:
    jobs = queue.list_jobs(database(args), tuple(args.state) if args.state else None)
    if args.json:
        print_json([_job_dict(job) for job in jobs])
        return 0
    for job in jobs:
        total = "?" if job.progress_total is None else job.progress_total
        print(f"{job.id:>6}  {job.state:<10} {job.kind:<24} {job.progress_done}/{total}  "
              f"{job.message or ''}")
    return 0


def _cancel(args: argparse.Namespace) -> int:
    state = queue.cancel(database(args), args.job_id)
    if state == "running":
        print(f"job {args.job_id}: cancel requested; it stops at its next unit of work")
    else:
        print(f"job {args.job_id}: {state}")
    return 0


def _log(args: argparse.Namespace) -> int:
    job = queue.get_job(database(args), args.job_id)
    print(job.log or "", end="")
    return 0


def _resume(args: argparse.Namespace) -> int:
    queue.resume(database(args), args.job_id)
    print(f"job {args.job_id}: queued again")
    return 0


def _submit(args: argparse.Namespace) -> int:
    import json

    from engine.errors import InvalidInputError

    try:
        params = json.loads(args.params)
    except json.JSONDecodeError as error:
        raise InvalidInputError(f"--params is not valid JSON ({error}); pass an object like "
                                "'{\"total\": 5}'") from None
    if not isinstance(params, dict):
        raise InvalidInputError("--params must be a JSON object like '{\"total\": 5}'")
    job_id = queue.submit(database(args), args.kind, params)
    print(job_id)
    return 0
