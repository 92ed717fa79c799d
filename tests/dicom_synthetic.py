"""DICOM test files: written from real Colin27 slices (Debian mricron-data) with pydicom,
or taken from the pydicom-data package.

The geometry is chosen by the test and written into the headers, so a reader's affine
and voxel order can be checked against a known truth. Every file carries canary patient
identifiers that must never show up in the database, the logs or error messages.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
ENHANCED_MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4.1"
SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])

# A crop of Colin27 (voxel ranges on the 1 mm template grid): 100 x 120 x 12 voxels.
CROP = (slice(40, 140), slice(50, 170), slice(60, 72))


@dataclass
class Canaries:
    """Patient identifiers written into every test file; none may leave the reader."""

    patient_name: str = "Canaryname^Zelda^Quill"
    patient_id: str = "CANARY-PID-77310"
    other_patient_id: str = "CANARY-OTHER-PID-4410"
    birth_date: str = "19230417"
    patient_address: str = "17 Canary Wharf Lane"
    telephone: str = "+44-20-5550-1173"
    institution: str = "Canary Memorial Hospital"
    institution_address: str = "99 Canaryfield Road"
    department: str = "Canary Neuroradiology"
    referring_physician: str = "Refcanary^Otto"
    performing_physician: str = "Perfcanary^Ines"
    operator: str = "Opcanary^Lena"
    accession: str = "ACC-CANARY-55213"
    study_id: str = "STUDY-CANARY-9"
    study_date: str = "19990314"
    study_time: str = "235917.123"
    device_serial: str = "SN-CANARY-4242"
    station: str = "CANARYSTATION7"
    study_description: str = "CANARYSTUDYDESC brain tumour work-up"
    series_description: str = "CANARYSERIESDESC T1 post gd"
    comments: str = "CANARYCOMMENT patient anxious"
    private_value: str = "PRIVATE-CANARY-99"
    study_uid: str = field(default_factory=generate_uid)
    series_uid: str = field(default_factory=generate_uid)
    frame_of_reference_uid: str = field(default_factory=generate_uid)

    def values(self) -> list[str]:
        """Every identifying string, in the forms a leak could take."""
        texts = [value for value in vars(self).values() if isinstance(value, str)]
        texts += [part for part in self.patient_name.split("^")]
        texts.append(f"{self.birth_date[:4]}-{self.birth_date[4:6]}-{self.birth_date[6:]}")
        texts.append(f"{self.study_date[:4]}-{self.study_date[4:6]}-{self.study_date[6:]}")
        return texts


def pydicom_data_file(name: str) -> Path:
    """Return a sample file of the pydicom-data package by path (nothing is downloaded)."""
    import pytest

    data_store = pytest.importorskip("data_store", reason="pydicom-data is not installed")
    path = Path(data_store.__file__).parent / "data" / name
    if not path.exists():
        pytest.skip(f"pydicom-data file {name} is not installed")
    return path


def colin_crop(templates: Path, name: str = "ch2.nii.gz") -> tuple[np.ndarray, np.ndarray]:
    """Return a crop of a template volume (as stored) and its RAS affine."""
    image = nib.load(templates / name)
    data = np.asarray(image.dataobj)[CROP]
    shift = np.eye(4)
    shift[:3, 3] = [CROP[0].start, CROP[1].start, CROP[2].start]
    return data, image.affine @ shift


def oblique_affine(origin=(12.5, -30.0, 40.0), spacing=(0.9, 1.1, 2.5)) -> np.ndarray:
    """Return a RAS affine rotated about two axes, with anisotropic voxels."""
    a, b = np.deg2rad(20.0), np.deg2rad(-12.0)
    about_x = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    about_z = np.array([[np.cos(b), -np.sin(b), 0], [np.sin(b), np.cos(b), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = about_z @ about_x @ np.diag(spacing)
    affine[:3, 3] = origin
    return affine


def plane_geometry(affine_ras: np.ndarray) -> tuple[list[float], list[float]]:
    """Return ImageOrientationPatient and PixelSpacing for a RAS affine."""
    lps = LPS_TO_RAS @ affine_ras
    column_spacing, row_spacing = np.linalg.norm(lps[:3, 0]), np.linalg.norm(lps[:3, 1])
    orientation = np.concatenate([lps[:3, 0] / column_spacing, lps[:3, 1] / row_spacing])
    return [round(float(v), 10) for v in orientation], [float(row_spacing), float(column_spacing)]


def slice_position(affine_ras: np.ndarray, k: int) -> list[float]:
    lps = LPS_TO_RAS @ affine_ras
    return [round(float(v), 6) for v in (lps @ [0, 0, k, 1])[:3]]


def _identify(ds: Dataset, canaries: Canaries) -> None:
    ds.PatientName = canaries.patient_name
    ds.PatientID = canaries.patient_id
    ds.OtherPatientIDs = canaries.other_patient_id
    ds.PatientBirthDate = canaries.birth_date
    ds.PatientAddress = canaries.patient_address
    ds.PatientTelephoneNumbers = canaries.telephone
    ds.PatientSex = "F"
    ds.InstitutionName = canaries.institution
    ds.InstitutionAddress = canaries.institution_address
    ds.InstitutionalDepartmentName = canaries.department
    ds.ReferringPhysicianName = canaries.referring_physician
    ds.PerformingPhysicianName = canaries.performing_physician
    ds.OperatorsName = canaries.operator
    ds.AccessionNumber = canaries.accession
    ds.StudyID = canaries.study_id
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = canaries.study_date
    ds.StudyTime = ds.SeriesTime = canaries.study_time
    ds.DeviceSerialNumber = canaries.device_serial
    ds.StationName = canaries.station
    ds.StudyDescription = canaries.study_description
    ds.SeriesDescription = canaries.series_description
    ds.ImageComments = canaries.comments
    ds.StudyInstanceUID = canaries.study_uid
    ds.SeriesInstanceUID = canaries.series_uid
    ds.FrameOfReferenceUID = canaries.frame_of_reference_uid
    block = ds.private_block(0x0029, "CANARY VENDOR", create=True)
    block.add_new(0x10, "LO", canaries.private_value)


def _technical(ds: Dataset) -> None:
    ds.Modality = "MR"
    ds.Manufacturer = "Acme Imaging"
    ds.MagneticFieldStrength = "3"
    ds.RepetitionTime = "550"
    ds.EchoTime = "12"
    ds.FlipAngle = "90"
    ds.ContrastBolusAgent = "CANARYAGENT gadobutrol"
    ds.SamplesPerPixel = 1
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0


def _file(ds: Dataset, sop_class: str, path: Path) -> None:
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


@dataclass
class WrittenSeries:
    """What a test needs to know about a written classic series."""

    folder: Path
    files: list[Path]  # in slice order k = 0 .. K-1
    instance_uids: list[str]
    raw: np.ndarray  # stored values (I, J, K)
    expected: np.ndarray  # rescaled float32 values (I, J, K)
    affine: np.ndarray  # RAS
    slopes: list[str]
    intercepts: list[str]
    canaries: Canaries


def write_series(folder: Path, raw: np.ndarray, affine_ras: np.ndarray, canaries: Canaries,
                 seed: int = 7, photometric: str = "MONOCHROME2",
                 window: tuple[float, float] | None = (120.0, 200.0)) -> WrittenSeries:
    """Write one classic MR file per slice with shuffled InstanceNumbers and file names.

    Slice ``k`` of ``raw`` (I, J, K) is stored with rows along J and columns along I,
    and a per-slice RescaleSlope and RescaleIntercept.
    """
    rng = random.Random(seed)
    count = raw.shape[2]
    instance_numbers = list(range(1, count + 1))
    rng.shuffle(instance_numbers)
    names = [f"IM{rng.randrange(10**6, 10**7)}.dcm" for _ in range(count)]
    orientation, spacing = plane_geometry(affine_ras)
    slopes = [f"{0.5 + 0.125 * k:g}" for k in range(count)]
    intercepts = [f"{-20 + 3 * k:g}" for k in range(count)]

    files, uids = [], []
    expected = np.empty(raw.shape, dtype=np.float32)
    for k in range(count):
        ds = Dataset()
        _identify(ds, canaries)
        _technical(ds)
        ds.InstanceNumber = instance_numbers[k]
        ds.ImagePositionPatient = slice_position(affine_ras, k)
        ds.ImageOrientationPatient = orientation
        ds.PixelSpacing = spacing
        ds.SliceThickness = f"{np.linalg.norm(affine_ras[:3, 2]):.6g}"
        ds.PhotometricInterpretation = photometric
        ds.Rows, ds.Columns = raw.shape[1], raw.shape[0]
        ds.RescaleSlope, ds.RescaleIntercept = slopes[k], intercepts[k]
        if window is not None:
            ds.WindowCenter, ds.WindowWidth = f"{window[0]:g}", f"{window[1]:g}"
        ds.PixelData = np.ascontiguousarray(raw[:, :, k].T.astype(np.uint16)).tobytes()
        path = folder / ("sub" if k % 3 == 0 else "") / names[k]
        _file(ds, MR_IMAGE_STORAGE, path)
        files.append(path)
        uids.append(ds.SOPInstanceUID)
        slope, intercept = np.float32(float(slopes[k])), np.float32(float(intercepts[k]))
        expected[:, :, k] = raw[:, :, k].astype(np.float32) * slope + intercept
    return WrittenSeries(folder, files, uids, raw, expected, affine_ras, slopes, intercepts, canaries)


def write_enhanced(path: Path, raw: np.ndarray, affine_ras: np.ndarray, canaries: Canaries,
                   seed: int = 11) -> tuple[np.ndarray, list[str]]:
    """Write an Enhanced MR file whose frames are stored in shuffled slice order.

    Per-frame groups hold the plane position, the rescale and a misleading
    InStackPositionNumber; shared groups hold orientation, pixel measures and window.
    Returns the expected rescaled volume (I, J, K) and the per-slice slopes.
    """
    rng = random.Random(seed)
    count = raw.shape[2]
    order = list(range(count))
    rng.shuffle(order)
    orientation, spacing = plane_geometry(affine_ras)
    slopes = [f"{1.0 + 0.25 * k:g}" for k in range(count)]

    ds = Dataset()
    _identify(ds, canaries)
    _technical(ds)
    del ds.RepetitionTime, ds.EchoTime, ds.FlipAngle
    ds.ImageType = ["ORIGINAL", "PRIMARY", "T1", "NONE"]
    ds.AcquisitionContrast = "T1"
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = raw.shape[1], raw.shape[0]
    ds.NumberOfFrames = count
    ds.InstanceNumber = 1

    shared = Dataset()
    shared.PlaneOrientationSequence = Sequence([Dataset()])
    shared.PlaneOrientationSequence[0].ImageOrientationPatient = orientation
    shared.PixelMeasuresSequence = Sequence([Dataset()])
    shared.PixelMeasuresSequence[0].PixelSpacing = spacing
    shared.PixelMeasuresSequence[0].SliceThickness = f"{np.linalg.norm(affine_ras[:3, 2]):.6g}"
    shared.FrameVOILUTSequence = Sequence([Dataset()])
    shared.FrameVOILUTSequence[0].WindowCenter = "300"
    shared.FrameVOILUTSequence[0].WindowWidth = "500"
    timing = Dataset()
    timing.RepetitionTime = 8.1
    timing.FlipAngle = 8.0
    shared.MRTimingAndRelatedParametersSequence = Sequence([timing])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])

    per_frame = []
    expected = np.empty(raw.shape, dtype=np.float32)
    for stored_index, k in enumerate(order):
        item = Dataset()
        item.PlanePositionSequence = Sequence([Dataset()])
        item.PlanePositionSequence[0].ImagePositionPatient = slice_position(affine_ras, k)
        item.FrameContentSequence = Sequence([Dataset()])
        item.FrameContentSequence[0].InStackPositionNumber = stored_index + 1
        item.FrameContentSequence[0].StackID = "1"
        item.PixelValueTransformationSequence = Sequence([Dataset()])
        item.PixelValueTransformationSequence[0].RescaleSlope = slopes[k]
        item.PixelValueTransformationSequence[0].RescaleIntercept = "-5"
        item.PixelValueTransformationSequence[0].RescaleType = "US"
        per_frame.append(item)
        expected[:, :, k] = raw[:, :, k].astype(np.float32) * np.float32(float(slopes[k])) + np.float32(-5.0)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    frames = np.stack([raw[:, :, k].T for k in order]).astype(np.uint16)
    ds.PixelData = np.ascontiguousarray(frames).tobytes()
    _file(ds, ENHANCED_MR_IMAGE_STORAGE, path)
    return expected, slopes


def write_seg(path: Path, series: WrittenSeries, segments: dict[int, tuple[str, np.ndarray]],
              fractional: dict[int, np.ndarray] | None = None) -> None:
    """Write a DICOM SEG on the grid of ``series``.

    ``segments`` maps segment numbers to (label, bool mask (I, J, K)). With ``fractional``
    (segment number -> uint8 fractions (I, J, K)), the SEG is FRACTIONAL with maximum 255
    and stores those values; otherwise it is BINARY. Frames are written only for slices
    where a segment is present, segment by segment, as SEG writers usually do.
    """
    orientation, spacing = plane_geometry(series.affine)
    ds = Dataset()
    _identify(ds, series.canaries)
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "SEG"
    ds.SegmentationType = "FRACTIONAL" if fractional else "BINARY"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = series.raw.shape[1], series.raw.shape[0]
    ds.BitsAllocated = ds.BitsStored = 8 if fractional else 1
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    if fractional:
        ds.SegmentationFractionalType = "PROBABILITY"
        ds.MaximumFractionalValue = 255
    ds.InstanceNumber = 1

    referenced = Dataset()
    referenced.SeriesInstanceUID = series.canaries.series_uid
    referenced.ReferencedInstanceSequence = Sequence()
    for uid in series.instance_uids:
        instance = Dataset()
        instance.ReferencedSOPClassUID = MR_IMAGE_STORAGE
        instance.ReferencedSOPInstanceUID = uid
        referenced.ReferencedInstanceSequence.append(instance)
    ds.ReferencedSeriesSequence = Sequence([referenced])

    segment_items = []
    for number, (label, _) in sorted(segments.items()):
        item = Dataset()
        item.SegmentNumber = number
        item.SegmentLabel = label
        item.SegmentAlgorithmType = "MANUAL"
        segment_items.append(item)
    ds.SegmentSequence = Sequence(segment_items)

    shared = Dataset()
    shared.PlaneOrientationSequence = Sequence([Dataset()])
    shared.PlaneOrientationSequence[0].ImageOrientationPatient = orientation
    shared.PixelMeasuresSequence = Sequence([Dataset()])
    shared.PixelMeasuresSequence[0].PixelSpacing = spacing
    shared.PixelMeasuresSequence[0].SliceThickness = f"{np.linalg.norm(series.affine[:3, 2]):.6g}"
    shared.PixelMeasuresSequence[0].SpacingBetweenSlices = f"{np.linalg.norm(series.affine[:3, 2]):.6g}"
    ds.SharedFunctionalGroupsSequence = Sequence([shared])

    frames, per_frame = [], []
    for number, (_, mask) in sorted(segments.items()):
        for k in range(mask.shape[2]):
            if not mask[:, :, k].any():
                continue
            values = fractional[number][:, :, k] if fractional else mask[:, :, k].astype(np.uint8)
            frames.append(values.T)
            item = Dataset()
            item.PlanePositionSequence = Sequence([Dataset()])
            item.PlanePositionSequence[0].ImagePositionPatient = slice_position(series.affine, k)
            item.SegmentIdentificationSequence = Sequence([Dataset()])
            item.SegmentIdentificationSequence[0].ReferencedSegmentNumber = number
            source = Dataset()
            source.ReferencedSOPClassUID = MR_IMAGE_STORAGE
            source.ReferencedSOPInstanceUID = series.instance_uids[k]
            derivation = Dataset()
            derivation.SourceImageSequence = Sequence([source])
            item.DerivationImageSequence = Sequence([derivation])
            per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    ds.NumberOfFrames = len(frames)
    stacked = np.stack(frames)
    if fractional:
        ds.PixelData = np.ascontiguousarray(stacked.astype(np.uint8)).tobytes()
    else:
        ds.PixelData = pydicom.pixels.pack_bits(stacked.astype(np.uint8))
    _file(ds, SEGMENTATION_STORAGE, path)
