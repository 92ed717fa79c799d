"""The ``import`` job kind: :func:`engine.io.importer.import_paths` run by a worker."""

from __future__ import annotations

from engine.io.importer import import_paths
from engine.jobs.registry import job_kind


# Resumable because an import is one transaction and skips content already present:
# running it again after a failure or a cancel imports exactly what is missing.
@job_kind("import", resumable=True,
          description="Import NIfTI, DICOM, PNG/JPEG images and masks ('paths', 'dataset', "
                      "'data_root', 'volume', 'masks'), then compute mask semantics unless "
                      "'semantics' is false")
def run_import(db, params, progress):
    """Run an import from job parameters; return the import summary as the job result."""
    summary = import_paths(
        db,
        params["paths"],
        dataset=params.get("dataset"),
        data_root=params.get("data_root"),
        volume_index=int(params.get("volume", 0)),
        masks=params.get("masks") or (),
        progress=progress,
    )
    for line in summary.lines():
        progress.log(line)
    result = summary.to_dict()
    if params.get("semantics", True):
        from engine.semantics.store import compute_dataset, dataset_id_by_name

        semantics = compute_dataset(db, dataset_id_by_name(db, summary.dataset), progress)
        result["semantics"] = semantics.to_dict()
    return result
