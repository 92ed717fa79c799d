"""Job kinds for benchmarks, run by ``neuroonco worker``."""

from __future__ import annotations

from engine.bench.importer import import_benchmark
from engine.errors import InvalidInputError
from engine.jobs.registry import job_kind


@job_kind("bench.import",
          description="Import MM-NeuroOnco benchmark JSON: 'closed', optional 'open', "
                      "'data_root', 'name', 'skip_invalid'")
def import_benchmark_job(db, params, progress):  # noqa: ANN001 - the job runner's signature
    """Run :func:`engine.bench.importer.import_benchmark` with the job's parameters."""
    if not params.get("closed"):
        raise InvalidInputError("bench.import job has no 'closed' parameter; pass the closed "
                                "benchmark file's path")
    report = import_benchmark(
        db, params["closed"], open_path=params.get("open"), data_root=params.get("data_root"),
        name=params.get("name"), skip_invalid=bool(params.get("skip_invalid", False)),
        progress=progress,
    )
    if not report.created:
        progress.log(f"benchmark '{report.name}' already holds these files; nothing imported")
    return report.to_dict()


@job_kind("bench.run", resumable=True,
          description="Answer the questions of benchmark run 'run_id'; a resumed job skips "
                      "the questions already answered")
def run_session_job(db, params, progress):  # noqa: ANN001 - the job runner's signature
    """Run :func:`engine.bench.session.run_session` for the job's run."""
    from engine.bench.session import run_session

    run_id = params.get("run_id")
    if not isinstance(run_id, int) or isinstance(run_id, bool):
        raise InvalidInputError(f"bench.run job has run_id {run_id!r}; pass the integer id of a "
                                "run created with 'neuroonco bench run --job'")
    return run_session(db, run_id, progress, job_id=getattr(progress, "job_id", None))


# Resumable because setting the data root again checks every image again and imports only
# the images not yet imported.
@job_kind("bench.set_data_root", resumable=True,
          description="Set the image folder 'data_root' of benchmark 'benchmark', import the "
                      "present images and link the items to them")
def set_data_root_job(db, params, progress):  # noqa: ANN001 - the job runner's signature
    """Run :func:`engine.bench.images.set_data_root` with the job's parameters."""
    from engine.bench.images import set_data_root

    for key in ("benchmark", "data_root"):
        if not params.get(key):
            raise InvalidInputError(f"bench.set_data_root job has no '{key}' parameter; pass the "
                                    "benchmark name and the image folder")
    presence = set_data_root(db, params["benchmark"], params["data_root"], progress)
    progress.log(f"images under {presence.data_root}: {presence.present_count} present, "
                 f"{presence.missing_count} missing")
    return presence.to_dict()
