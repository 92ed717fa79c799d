"""SQLAlchemy 2.0 models of the workbench database.

The schema runs on SQLite (the default) and PostgreSQL, so it uses only portable types:
JSON columns, strings checked by constraints instead of native enums, and foreign keys
with ``ON DELETE`` rules that make a dataset or benchmark delete leave no orphans.

Privacy: no column stores a DICOM patient identifier. Cases carry a pseudonym only
(see ``engine.io.deid``), and DICOM UIDs are never stored.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Deterministic constraint names, so Alembic migrations name the same objects on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MODALITIES = ("T1", "T1CE", "T2", "FLAIR", "other", "unknown")
JOB_STATES = ("queued", "running", "succeeded", "failed", "cancelled")
VERDICTS = ("agree", "disagree", "flag", "withdrawn")
SETTINGS = ("rejection-aware", "standard")
SCORING_MODES = ("generate", "letter-prob")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON(none_as_null=True), list[Any]: JSON(none_as_null=True)}


# --------------------------------------------------------------------------- images


class Dataset(Base):
    """A named collection of cases imported together (a folder, a BraTS set, a benchmark's images)."""

    __tablename__ = "dataset"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32), default="mixed")
    data_root: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    is_synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    cases: Mapped[list[Case]] = relationship(
        back_populates="dataset", cascade="all, delete-orphan", passive_deletes=True
    )


class Case(Base):
    """One subject: a pseudonymous id, never a patient identifier."""

    __tablename__ = "case"
    __table_args__ = (UniqueConstraint("dataset_id", "pseudonym"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("dataset.id", ondelete="CASCADE"), index=True)
    pseudonym: Mapped[str] = mapped_column(String(200))
    tumour_type: Mapped[str | None] = mapped_column(String(64), index=True)
    source: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    dataset: Mapped[Dataset] = relationship(back_populates="cases")
    series: Mapped[list[Series]] = relationship(
        back_populates="case", cascade="all, delete-orphan", passive_deletes=True
    )
    masks: Mapped[list[Mask]] = relationship(
        back_populates="case", cascade="all, delete-orphan", passive_deletes=True
    )


class Series(Base):
    """An image volume (NIfTI, DICOM series) or a single 2D image, with its geometry.

    ``shape`` is the array shape as loaded (``[H, W]`` for 2D images, ``[I, J, K]`` for
    volumes), ``affine`` the 4x4 voxel-to-world (RAS+, mm) matrix, ``slice_axis`` the voxel
    axis that slices are taken along.
    """

    __tablename__ = "series"
    __table_args__ = (
        CheckConstraint(_in("modality", MODALITIES), name="modality"),
        UniqueConstraint("case_id", "content_sha256", "volume_index"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), index=True)
    modality: Mapped[str] = mapped_column(String(16), default="unknown", index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "volume" or "image2d"
    file_format: Mapped[str] = mapped_column(String(16))  # nifti, dicom, png, jpeg
    shape: Mapped[list[Any]] = mapped_column(JSON(none_as_null=True))
    voxel_spacing: Mapped[list[Any]] = mapped_column(JSON(none_as_null=True))
    affine: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    slice_axis: Mapped[int] = mapped_column(Integer, default=2)
    volume_index: Mapped[int] = mapped_column(Integer, default=0)
    volume_count: Mapped[int] = mapped_column(Integer, default=1)
    source_path: Mapped[str] = mapped_column(Text)
    content_sha256: Mapped[str] = mapped_column(String(64), index=True)
    dtype: Mapped[str | None] = mapped_column(String(16))
    # Intensity statistics of the loaded float32 data, for explicit display levels.
    intensity: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # Display windows from the DICOM header ([{"center": c, "width": w}]), if any.
    header_windows: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    # Allowed technical acquisition attributes (never identifiers) and reader warnings.
    acquisition: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # Keyed hash of the DICOM SeriesInstanceUID (never the UID), so a DICOM SEG imported
    # later can find the series it annotates.
    source_key: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    case: Mapped[Case] = relationship(back_populates="series")
    slices: Mapped[list[Slice]] = relationship(
        back_populates="series", cascade="all, delete-orphan", passive_deletes=True,
        order_by="Slice.index",
    )


class Slice(Base):
    """A 2D view unit: an index along a volume's slice axis, or a whole 2D image file."""

    __tablename__ = "slice"
    __table_args__ = (UniqueConstraint("series_id", "index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer, default=0)
    # Path of a 2D image relative to the dataset's data root (MM-NeuroOnco layout), else null.
    image_path: Mapped[str | None] = mapped_column(Text, index=True)
    has_mask: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    coarse_description: Mapped[str | None] = mapped_column(Text)

    series: Mapped[Series] = relationship(back_populates="slices")
    semantics: Mapped[list[Semantics]] = relationship(
        back_populates="slice", cascade="all, delete-orphan", passive_deletes=True
    )


class Mask(Base):
    """A label map on the grid of one or more series of a case.

    ``label_names`` maps label values (as strings, JSON keys) to names, e.g.
    ``{"1": "necrotic core", "2": "oedema", "4": "enhancing tumour"}``.
    """

    __tablename__ = "mask"
    __table_args__ = (UniqueConstraint("case_id", "content_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), index=True)
    reference_series_id: Mapped[int | None] = mapped_column(
        ForeignKey("series.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # label-map, binary-image, yolo, dicom-seg
    file_format: Mapped[str] = mapped_column(String(16))
    source_path: Mapped[str] = mapped_column(Text)
    content_sha256: Mapped[str] = mapped_column(String(64))
    shape: Mapped[list[Any]] = mapped_column(JSON(none_as_null=True))
    label_names: Mapped[dict[str, Any]] = mapped_column(JSON(none_as_null=True), default=dict)
    is_synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    case: Mapped[Case] = relationship(back_populates="masks")
    summaries: Mapped[list[MaskRegionSummary]] = relationship(
        back_populates="mask", cascade="all, delete-orphan", passive_deletes=True
    )


class Semantics(Base):
    """Mask-derived semantics of one slice for one mask region (the MM-NeuroOnco rules).

    ``region`` is ``whole`` for binary masks, or ``WT``/``TC``/``ET`` (whole tumour, tumour
    core, enhancing tumour) for BraTS label maps. An empty region has ``is_empty`` set and
    null labels.
    """

    __tablename__ = "semantics"
    __table_args__ = (UniqueConstraint("slice_id", "mask_id", "region"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slice_id: Mapped[int] = mapped_column(ForeignKey("slice.id", ondelete="CASCADE"), index=True)
    mask_id: Mapped[int] = mapped_column(ForeignKey("mask.id", ondelete="CASCADE"), index=True)
    region: Mapped[str] = mapped_column(String(16), default="whole")
    is_empty: Mapped[bool] = mapped_column(Boolean, default=False)
    size: Mapped[str | None] = mapped_column(String(32), index=True)
    shape: Mapped[str | None] = mapped_column(String(32), index=True)
    spread: Mapped[str | None] = mapped_column(String(48), index=True)
    location: Mapped[str | None] = mapped_column(String(48), index=True)
    area_px: Mapped[int] = mapped_column(Integer, default=0)
    area_ratio: Mapped[float | None] = mapped_column(Float)
    circularity: Mapped[float | None] = mapped_column(Float)
    elongation: Mapped[float | None] = mapped_column(Float)
    components: Mapped[int] = mapped_column(Integer, default=0)
    dominant_fraction: Mapped[float | None] = mapped_column(Float)
    centroid_x: Mapped[float | None] = mapped_column(Float)
    centroid_y: Mapped[float | None] = mapped_column(Float)
    coarse_description: Mapped[str | None] = mapped_column(Text)
    rules_version: Mapped[str] = mapped_column(String(16), default="mmno-1.0")

    slice: Mapped[Slice] = relationship(back_populates="semantics")
    mask: Mapped[Mask] = relationship()


class MaskRegionSummary(Base):
    """Volume summary of one region of a 3D label map: lesion volume and largest slice."""

    __tablename__ = "mask_region_summary"
    __table_args__ = (UniqueConstraint("mask_id", "region"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mask_id: Mapped[int] = mapped_column(ForeignKey("mask.id", ondelete="CASCADE"), index=True)
    region: Mapped[str] = mapped_column(String(16))
    voxel_count: Mapped[int] = mapped_column(Integer, default=0)
    volume_ml: Mapped[float] = mapped_column(Float, default=0.0)
    slices_with_lesion: Mapped[int] = mapped_column(Integer, default=0)
    largest_slice_index: Mapped[int | None] = mapped_column(Integer)
    largest_slice_area_px: Mapped[int] = mapped_column(Integer, default=0)

    mask: Mapped[Mask] = relationship(back_populates="summaries")


# --------------------------------------------------------------------------- benchmarks


class Benchmark(Base):
    """An imported or generated benchmark (MM-NeuroOnco v1.0 JSON schema)."""

    __tablename__ = "benchmark"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    data_root: Mapped[str | None] = mapped_column(Text)
    # [{"role": "closed"|"open", "path": ..., "sha256": ...}]
    source_files: Mapped[list[Any]] = mapped_column(JSON(none_as_null=True), default=list)
    images_dataset_id: Mapped[int | None] = mapped_column(
        ForeignKey("dataset.id", ondelete="SET NULL")
    )
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    items: Mapped[list[BenchmarkItem]] = relationship(
        back_populates="benchmark", cascade="all, delete-orphan", passive_deletes=True,
        order_by="BenchmarkItem.item_id",
    )


class BenchmarkItem(Base):
    """One benchmark image and its questions; ``slice_id`` links it to an imported image."""

    __tablename__ = "benchmark_item"
    __table_args__ = (UniqueConstraint("benchmark_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    benchmark_id: Mapped[int] = mapped_column(
        ForeignKey("benchmark.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[int] = mapped_column(Integer)
    image_path: Mapped[str] = mapped_column(Text, index=True)
    tumour_class: Mapped[str | None] = mapped_column(String(64), index=True)
    source: Mapped[str | None] = mapped_column(String(64))
    slice_id: Mapped[int | None] = mapped_column(
        ForeignKey("slice.id", ondelete="SET NULL"), index=True
    )
    image_missing: Mapped[bool] = mapped_column(Boolean, default=True)

    benchmark: Mapped[Benchmark] = relationship(back_populates="items")
    questions: Mapped[list[Question]] = relationship(
        back_populates="item", cascade="all, delete-orphan", passive_deletes=True,
        order_by="[Question.kind, Question.q_index]",
    )
    slice: Mapped[Slice | None] = relationship()


class Question(Base):
    """A closed (multiple-choice) or open question about one benchmark item.

    Closed: ``options`` is an ordered ``{letter: text}`` object, ``gold_letter`` the answer,
    ``is_trap`` marks rejection items (correct option removed, gold "E") and
    ``original_answer`` holds the removed option's text. Open: ``reference_answer`` and
    ``keywords`` (``eval_keywords``).
    """

    __tablename__ = "question"
    __table_args__ = (
        UniqueConstraint("item_id", "kind", "q_index"),
        CheckConstraint(_in("kind", ("closed", "open")), name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("benchmark_item.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(8))
    q_index: Mapped[int] = mapped_column(Integer)
    external_id: Mapped[str | None] = mapped_column(String(64))
    question_type: Mapped[str] = mapped_column(String(32), index=True)
    stem: Mapped[str] = mapped_column(Text)
    options: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    gold_letter: Mapped[str | None] = mapped_column(String(1))
    is_trap: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    original_answer: Mapped[str | None] = mapped_column(Text)
    reference_answer: Mapped[str | None] = mapped_column(Text)
    keywords: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    duplicate_options: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))

    item: Mapped[BenchmarkItem] = relationship(back_populates="questions")


# --------------------------------------------------------------------------- models and runs


class Model(Base):
    """A registered model: local transformers folder, GGUF files, an HTTP server, or a baseline.

    API keys are never stored here: ``api_key_env`` names an environment variable, and the
    OS keyring is looked up by the model name.
    """

    __tablename__ = "model"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    backend: Mapped[str] = mapped_column(String(16))  # transformers, llama.cpp, openai, baseline
    path: Mapped[str | None] = mapped_column(Text)
    mmproj_path: Mapped[str | None] = mapped_column(Text)
    family: Mapped[str | None] = mapped_column(String(64))
    quantization: Mapped[str | None] = mapped_column(String(32))
    sha256: Mapped[str | None] = mapped_column(String(64))
    revision: Mapped[str | None] = mapped_column(String(64))
    base_url: Mapped[str | None] = mapped_column(Text)
    server_model: Mapped[str | None] = mapped_column(String(200))
    api_key_env: Mapped[str | None] = mapped_column(String(100))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON(none_as_null=True), default=dict)
    licence: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    adapters: Mapped[list[Adapter]] = relationship(
        back_populates="model", cascade="all, delete-orphan", passive_deletes=True
    )


class Adapter(Base):
    """A PEFT (LoRA) adapter for a registered base model."""

    __tablename__ = "adapter"
    __table_args__ = (UniqueConstraint("model_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("model.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64))
    checkpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("checkpoint.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    model: Mapped[Model] = relationship(back_populates="adapters")


class Run(Base):
    """A benchmark session: benchmark x model (x adapter) x setting x mode x template x seed.

    ``model_name`` and ``config`` keep the full configuration even after the model row is
    deleted; ``external`` marks runs imported from published prediction files.
    """

    __tablename__ = "run"
    __table_args__ = (
        CheckConstraint(_in("setting", SETTINGS), name="setting"),
        CheckConstraint(_in("mode", SCORING_MODES), name="mode"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    benchmark_id: Mapped[int] = mapped_column(
        ForeignKey("benchmark.id", ondelete="CASCADE"), index=True
    )
    model_id: Mapped[int | None] = mapped_column(ForeignKey("model.id", ondelete="SET NULL"))
    adapter_id: Mapped[int | None] = mapped_column(ForeignKey("adapter.id", ondelete="SET NULL"))
    model_name: Mapped[str] = mapped_column(String(200))
    adapter_name: Mapped[str | None] = mapped_column(String(200))
    setting: Mapped[str] = mapped_column(String(16), default="rejection-aware")
    mode: Mapped[str] = mapped_column(String(16), default="generate")
    template_id: Mapped[str | None] = mapped_column(String(64))
    template_version: Mapped[str | None] = mapped_column(String(16))
    seed: Mapped[int] = mapped_column(Integer, default=0)
    config: Mapped[dict[str, Any]] = mapped_column(JSON(none_as_null=True), default=dict)
    status: Mapped[str] = mapped_column(String(16), default="created")
    external: Mapped[bool] = mapped_column(Boolean, default=False)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("job.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    answers: Mapped[list[Answer]] = relationship(
        back_populates="run", cascade="all, delete-orphan", passive_deletes=True
    )


class Answer(Base):
    """One model answer to one question in a run, with its full provenance.

    A question skipped because its image is missing gets a row with ``skipped`` set, so it
    is counted and never silently dropped.
    """

    __tablename__ = "answer"
    __table_args__ = (UniqueConstraint("run_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("question.id", ondelete="CASCADE"), index=True
    )
    raw_output: Mapped[str | None] = mapped_column(Text)
    reasoning: Mapped[str | None] = mapped_column(Text)
    parsed_letter: Mapped[str | None] = mapped_column(String(1))
    parse_rule: Mapped[str | None] = mapped_column(String(32))
    is_correct: Mapped[bool | None] = mapped_column(Boolean)
    letter_probs: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    letter_mass: Mapped[float | None] = mapped_column(Float)
    scores: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    skipped: Mapped[str | None] = mapped_column(String(32))
    latency_ms: Mapped[float | None] = mapped_column(Float)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON(none_as_null=True), default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    run: Mapped[Run] = relationship(back_populates="answers")
    question: Mapped[Question] = relationship()


class Judgement(Base):
    """A judge model's verdict on an open answer: prompt, model and raw verdict are kept."""

    __tablename__ = "judgement"

    id: Mapped[int] = mapped_column(primary_key=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("answer.id", ondelete="CASCADE"), index=True)
    judge_model_name: Mapped[str] = mapped_column(String(200))
    prompt: Mapped[str] = mapped_column(Text)
    raw_verdict: Mapped[str | None] = mapped_column(Text)
    score: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Review(Base):
    """A clinician's verdict. Append-only: an edit adds a version that supersedes the last.

    The target is one model answer, one slice, or one field of a slice's silver label.
    ``withdrawn`` is the verdict an undo appends.
    """

    __tablename__ = "review"
    __table_args__ = (
        CheckConstraint(_in("verdict", VERDICTS), name="verdict"),
        CheckConstraint(_in("target", ("answer", "slice", "silver_label")), name="target"),
        Index("ix_review_target_key", "target", "answer_id", "slice_id", "silver_label_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    target: Mapped[str] = mapped_column(String(16))
    answer_id: Mapped[int | None] = mapped_column(ForeignKey("answer.id", ondelete="CASCADE"))
    slice_id: Mapped[int | None] = mapped_column(
        ForeignKey("slice.id", ondelete="CASCADE"), index=True
    )
    silver_label_id: Mapped[int | None] = mapped_column(
        ForeignKey("silver_label.id", ondelete="CASCADE")
    )
    field: Mapped[str | None] = mapped_column(String(32))
    reviewer: Mapped[str] = mapped_column(String(100), index=True)
    verdict: Mapped[str] = mapped_column(String(16), index=True)
    comment: Mapped[str | None] = mapped_column(Text)
    corrected_answer: Mapped[str | None] = mapped_column(Text)
    corrected_label: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("review.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# --------------------------------------------------------------------------- pipeline


class PipelineRun(Base):
    """One run of the instruction pipeline over a dataset; ``stats`` holds per-stage counts and AIR."""

    __tablename__ = "pipeline_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("dataset.id", ondelete="CASCADE"), index=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON(none_as_null=True), default=dict)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON(none_as_null=True), default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SilverLabel(Base):
    """A silver label of one slice at one pipeline stage (run_a, run_b, fused, audited)."""

    __tablename__ = "silver_label"
    __table_args__ = (UniqueConstraint("pipeline_run_id", "slice_id", "stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pipeline_run_id: Mapped[int] = mapped_column(
        ForeignKey("pipeline_run.id", ondelete="CASCADE"), index=True
    )
    slice_id: Mapped[int] = mapped_column(ForeignKey("slice.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(16))
    model_name: Mapped[str | None] = mapped_column(String(200))
    template_id: Mapped[str | None] = mapped_column(String(64))
    raw_output: Mapped[str | None] = mapped_column(Text)
    fields: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    status: Mapped[str] = mapped_column(String(16), default="ok")
    notes: Mapped[list[Any]] = mapped_column(JSON(none_as_null=True), default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class InstructionSample(Base):
    """A generated instruction (training) sample in the ``messages`` + ``images`` form."""

    __tablename__ = "instruction_sample"

    id: Mapped[int] = mapped_column(primary_key=True)
    pipeline_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("pipeline_run.id", ondelete="CASCADE"), index=True
    )
    slice_id: Mapped[int] = mapped_column(ForeignKey("slice.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # closed, closed-cot, open
    question_type: Mapped[str] = mapped_column(String(32))
    split: Mapped[str | None] = mapped_column(String(16), index=True)
    messages: Mapped[list[Any]] = mapped_column(JSON(none_as_null=True))
    images: Mapped[list[Any]] = mapped_column(JSON(none_as_null=True))
    meta: Mapped[dict[str, Any]] = mapped_column(JSON(none_as_null=True), default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# --------------------------------------------------------------------------- fine-tuning


class TrainingRun(Base):
    """A LoRA/QLoRA fine-tune of a registered base model, run in its own process."""

    __tablename__ = "training_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    base_model_id: Mapped[int | None] = mapped_column(ForeignKey("model.id", ondelete="SET NULL"))
    config: Mapped[dict[str, Any]] = mapped_column(JSON(none_as_null=True), default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    output_dir: Mapped[str] = mapped_column(Text)
    pid: Mapped[int | None] = mapped_column(Integer)
    hostname: Mapped[str | None] = mapped_column(String(200))
    step: Mapped[int] = mapped_column(Integer, default=0)
    total_steps: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str | None] = mapped_column(Text)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    metrics: Mapped[list[TrainingMetric]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="TrainingMetric.step"
    )
    checkpoints: Mapped[list[Checkpoint]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="Checkpoint.step"
    )


class TrainingMetric(Base):
    """One logged training step (or validation pass)."""

    __tablename__ = "training_metric"

    id: Mapped[int] = mapped_column(primary_key=True)
    training_run_id: Mapped[int] = mapped_column(
        ForeignKey("training_run.id", ondelete="CASCADE"), index=True
    )
    step: Mapped[int] = mapped_column(Integer)
    epoch: Mapped[float | None] = mapped_column(Float)
    loss: Mapped[float | None] = mapped_column(Float)
    learning_rate: Mapped[float | None] = mapped_column(Float)
    val_loss: Mapped[float | None] = mapped_column(Float)
    samples_per_second: Mapped[float | None] = mapped_column(Float)
    gpu_memory_mb: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Checkpoint(Base):
    """A saved adapter checkpoint of a training run, with its validation loss."""

    __tablename__ = "checkpoint"
    __table_args__ = (UniqueConstraint("training_run_id", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    training_run_id: Mapped[int] = mapped_column(
        ForeignKey("training_run.id", ondelete="CASCADE"), index=True
    )
    step: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    val_loss: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# --------------------------------------------------------------------------- jobs


class Job(Base):
    """A unit of background work claimed and run by a ``neuroonco worker`` process."""

    __tablename__ = "job"
    __table_args__ = (
        CheckConstraint(_in("state", JOB_STATES), name="state"),
        Index("ix_job_state_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON(none_as_null=True), default=dict)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    log: Mapped[str] = mapped_column(Text, default="")
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    worker_id: Mapped[str | None] = mapped_column(String(100))
    pid: Mapped[int | None] = mapped_column(Integer)
    hostname: Mapped[str | None] = mapped_column(String(200))
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    resumed_from_id: Mapped[int | None] = mapped_column(ForeignKey("job.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Worker(Base):
    """A running ``neuroonco worker`` process; its heartbeat tells the GUI it is alive."""

    __tablename__ = "worker"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="idle")  # idle, busy, stopped
    current_job_id: Mapped[int | None] = mapped_column(ForeignKey("job.id", ondelete="SET NULL"))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
