"""Benchmark data roots: which images are present, symlink safety, links to imported slices."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import func, select

from benchmark_files import closed_items, write_json
from conftest import run_cli
from db.models import Benchmark, BenchmarkItem, Case, Dataset, Series, Slice
from engine.bench.images import set_data_root
from engine.bench.importer import import_benchmark
from engine.errors import InvalidInputError

IDS = [1, 3, 4, 9]


@pytest.fixture
def small(db, shared_data, tmp_path):
    """The closed items IDS imported as benchmark 'small'; returns their image paths by id."""
    items = closed_items(shared_data, IDS)
    import_benchmark(db, write_json(tmp_path / "small.json", items))
    return {item["id"]: item["image_path"] for item in items}


def _touch(path):
    """Write a small real image (PNG or JPEG by suffix), since present images are imported."""
    import numpy as np
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = (np.arange(32 * 32, dtype=np.uint32).reshape(32, 32) % 251).astype(np.uint8)
    pixels[sum(path.name.encode()) % 32, :] = 255  # different content per file name
    Image.fromarray(pixels).save(path, format="PNG" if path.suffix.lower() == ".png" else "JPEG")
    return path


def _missing_flags(db) -> dict[int, bool]:
    with db.session() as session:
        return dict(session.execute(select(BenchmarkItem.item_id, BenchmarkItem.image_missing)).all())


def _data_root(db):
    with db.session() as session:
        return session.scalar(select(Benchmark.data_root).where(Benchmark.name == "small"))


def test_presence_checked(db, db_url, small, tmp_path):
    root = tmp_path / "images"
    _touch(root / small[1])
    # Item 3's image is a symlink to another file inside the root: present.
    elsewhere = _touch(root / "copies" / "3.png")
    (root / small[3]).parent.mkdir(parents=True)
    os.symlink(elsewhere, root / small[3])
    # Item 9's image is a dangling symlink inside the root: missing.
    (root / small[9]).parent.mkdir(parents=True)
    os.symlink(root / "copies" / "gone.png", root / small[9])

    result = run_cli(db_url, "bench", "set-data-root", "small", str(root))

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"images under {root}: 2 present, 2 missing"
    assert result.stdout.splitlines()[-1] == "present images are imported into dataset 'small images'"
    assert _missing_flags(db) == {1: False, 3: False, 4: True, 9: True}
    assert _data_root(db) == str(root)


def test_presence_updated_on_rerun(db, small, tmp_path):
    root = tmp_path / "images"
    _touch(root / small[4])
    first = set_data_root(db, "small", root)
    _touch(root / small[1])
    (root / small[4]).unlink()
    second = set_data_root(db, "small", root)

    assert (first.present_count, first.missing_count) == (1, 3)
    assert (second.present_count, second.missing_count) == (1, 3)
    assert _missing_flags(db) == {1: False, 3: True, 4: True, 9: True}


def test_symlink_out_of_root_rejected(db, db_url, small, tmp_path):
    root = tmp_path / "images"
    _touch(root / small[1])
    outside = _touch(tmp_path / "elsewhere" / "secret.png")
    (root / small[4]).parent.mkdir(parents=True)
    os.symlink(outside, root / small[4])
    before = _missing_flags(db)

    result = run_cli(db_url, "bench", "set-data-root", "small", str(root))

    assert result.returncode == 1
    assert result.stderr == (
        f"error: data root '{root}': the images of 1 items (4) lead out of it through "
        f"symlinks, for example image_path {small[4]!r} leads through a symlink to "
        f"{os.path.realpath(outside)!r}, outside the data root; copy those images into the "
        "data root or remove the links\n")
    assert _missing_flags(db) == before
    assert _data_root(db) is None


def test_data_root_must_be_folder(db, small, tmp_path):
    not_folder = _touch(tmp_path / "file.png")
    with pytest.raises(InvalidInputError, match="is not a folder"):
        set_data_root(db, "small", not_folder)
    assert _data_root(db) is None


def test_unknown_benchmark(db_url, tmp_path):
    result = run_cli(db_url, "bench", "set-data-root", "nope", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr == ("error: benchmark 'nope' not found; list benchmarks with "
                             "'neuroonco bench list'\n")


def test_import_with_data_root(db, shared_data, tmp_path):
    items = closed_items(shared_data, IDS)
    root = tmp_path / "images"
    _touch(root / items[0]["image_path"])

    report = import_benchmark(db, write_json(tmp_path / "rooted.json", items), data_root=root)

    assert (report.images.present_count, report.images.missing_count) == (1, 3)
    assert report.images.missing_examples == [item["image_path"] for item in items[1:]]
    assert _missing_flags(db) == {1: False, 3: True, 4: True, 9: True}


def test_items_linked_to_slices(db, small, tmp_path):
    root = tmp_path / "images"
    _touch(root / small[3])
    with db.session(write=True) as session:
        dataset = Dataset(name="images", kind="image2d", data_root=str(root))
        session.add(dataset)
        session.flush()
        case = Case(dataset_id=dataset.id, pseudonym="case-1", tumour_type="glioma")
        session.add(case)
        session.flush()
        series = Series(case_id=case.id, kind="image2d", file_format="png", shape=[240, 240],
                        voxel_spacing=[1.0, 1.0], source_path=str(root / small[3]),
                        content_sha256="0" * 64)
        session.add(series)
        session.flush()
        image = Slice(series_id=series.id, index=0, image_path=small[3])
        session.add(image)
        session.flush()
        slice_id = image.id

    set_data_root(db, "small", root, import_images=False)
    with db.session() as session:
        links = dict(session.execute(select(BenchmarkItem.item_id, BenchmarkItem.slice_id)).all())
    assert links == {1: None, 3: slice_id, 4: None, 9: None}

    # Another data root unlinks the item: the slice belongs to the first root's dataset.
    set_data_root(db, "small", tmp_path, import_images=False)
    with db.session() as session:
        assert session.scalar(select(BenchmarkItem.slice_id)
                              .where(BenchmarkItem.item_id == 3)) is None


def test_present_images_imported_and_linked(db, small, tmp_path):
    root = tmp_path / "images"
    _touch(root / small[1])
    _touch(root / small[4])
    set_data_root(db, "small", root)
    with db.session() as session:
        benchmark = session.scalars(select(Benchmark)).one()
        dataset = session.get(Dataset, benchmark.images_dataset_id)
        links = dict(session.execute(
            select(BenchmarkItem.item_id, Slice.image_path)
            .join(Slice, Slice.id == BenchmarkItem.slice_id)).all())
        tumour_types = set(session.scalars(select(Case.tumour_type).where(Case.dataset_id == dataset.id)))
    assert dataset.name == "small images" and dataset.data_root == str(root)
    assert links == {1: small[1], 4: small[4]}
    assert tumour_types == {small[1].split("/")[0], small[4].split("/")[0]}

    # Setting the same root again imports nothing new and keeps the links.
    set_data_root(db, "small", root)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Slice)) == 2
