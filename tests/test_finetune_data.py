"""Training data: JSONL and database instruction sets, the collator's labels and the batch preview."""

from __future__ import annotations

import json

import pytest

from engine.errors import InvalidInputError, NotFoundError
from engine.finetune.collator import IGNORE_INDEX, ChatCollator
from engine.finetune.config import DatasetSpec, FineTuneConfig
from engine.finetune.data import load_samples, read_jsonl, split_samples
from engine.finetune.preview import IMAGE, LABEL, PROMPT, describe_batch, preview_first_batch
from finetune_fixtures import mri_images, tiny_models, training_set  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow


def _write(path, records):
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def _chat(user="<image>Which sequence is this?", answer="The answer is B."):
    return [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]


@pytest.fixture
def image(tmp_path, mri_images):  # noqa: F811
    mri_images["a"].save(tmp_path / "a.png")
    return "a.png"


def test_jsonl_turns_placeholders_into_image_parts(tmp_path, image):
    path = _write(tmp_path / "t.jsonl", [{"messages": _chat("Look: <image> and answer."), "images": [image]}])
    sample = read_jsonl(path)[0]
    assert sample.key == "t.jsonl:1"
    assert sample.images == (tmp_path / "a.png",)
    assert sample.messages[0]["content"] == [{"type": "text", "text": "Look: "}, {"type": "image"},
                                             {"type": "text", "text": " and answer."}]


@pytest.mark.parametrize("record, expected", [
    ({"messages": _chat(), "images": []}, "line 1: 1 <image> placeholder(s) but 0 image(s)"),
    ({"messages": _chat(user="No image here"), "images": ["a.png"]}, "0 <image> placeholder(s) but 1 image(s)"),
    ({"messages": _chat()[:1], "images": ["a.png"]}, "there is no assistant turn"),
    ({"messages": [{"role": "doctor", "content": "x"}], "images": []}, "message 0 has no role"),
    ({"messages": _chat(), "images": ["missing.png"]}, "missing.png does not exist"),
    ({"messages": _chat(answer="<image>"), "images": ["a.png", "a.png"]}, "images go in user turns only"),
    ({"images": ["a.png"]}, "'messages' is missing or empty"),
])
def test_jsonl_rejects_bad_samples(tmp_path, image, record, expected):
    path = _write(tmp_path / "bad.jsonl", [record])
    with pytest.raises(InvalidInputError) as raised:
        read_jsonl(path)
    assert str(path) in str(raised.value)
    assert expected in str(raised.value)


def test_jsonl_reports_line_of_broken_json(tmp_path, image):
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps({"messages": _chat(), "images": [image]}) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="line 2 is not JSON"):
        read_jsonl(path)


def _instruction_rows(db, images: list[str], split: str = "train") -> None:
    from db.models import Case, Dataset, InstructionSample, PipelineRun, Series, Slice

    with db.session(write=True) as session:
        dataset = Dataset(name="demo")
        case = Case(dataset=dataset, pseudonym="case-1")
        series = Series(case=case, kind="image2d", file_format="png", shape=[112, 112], voxel_spacing=[1, 1],
                        source_path="/nowhere.png", content_sha256="0" * 64)
        slice_row = Slice(series=series, index=0)
        session.add_all([dataset, case, series, slice_row])
        session.flush()
        run = PipelineRun(name="pipe-1", dataset_id=dataset.id)
        session.add(run)
        session.flush()
        for image in images:
            session.add(InstructionSample(pipeline_run_id=run.id, slice_id=slice_row.id, kind="closed",
                                          question_type="sequence", split=split, messages=_chat(),
                                          images=[image]))


def test_database_instruction_set(db, tmp_path, image):
    _instruction_rows(db, [image, image])
    spec = DatasetSpec.parse("db:pipe-1:train")
    samples = load_samples([spec], tmp_path, db)
    assert len(samples) == 2
    assert samples[0].images == (tmp_path / "a.png",)
    assert samples[0].key.startswith("db:")
    with pytest.raises(InvalidInputError, match="relative path; pass the folder"):
        load_samples([spec], None, db)
    with pytest.raises(InvalidInputError, match="has no instruction samples in split 'benchmark'"):
        load_samples([DatasetSpec.parse("db:pipe-1:benchmark")], tmp_path, db)
    with pytest.raises(NotFoundError, match="pipeline run 'other' does not exist"):
        load_samples([DatasetSpec.parse("db:other")], tmp_path, db)


def test_split_is_seeded_and_disjoint(training_set):
    samples = read_jsonl(training_set)
    train, val = split_samples(samples, 0.2, seed=1)
    again_train, again_val = split_samples(samples, 0.2, seed=1)
    _, other_val = split_samples(samples, 0.2, seed=2)
    assert len(val) == 2
    assert len(train) == 10
    assert [s.key for s in val] == [s.key for s in again_val]
    assert {s.key for s in val} != {s.key for s in other_val}
    assert not {s.key for s in train} & {s.key for s in val}
    with pytest.raises(InvalidInputError, match="too few for a validation split"):
        split_samples(samples[:1], 0.5, seed=1)


@pytest.fixture(params=["llava", "idefics3"])
def processor(request, tiny_models):  # noqa: F811
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(tiny_models.transformers(request.param))


def test_labels_cover_only_assistant_replies(tmp_path, image, processor):
    multi_turn = [{"role": "system", "content": "You are a neuroradiology assistant."},
                  {"role": "user", "content": "<image>Is there an abnormality?"},
                  {"role": "assistant", "content": "A"},
                  {"role": "user", "content": "Where is the lesion?"},
                  {"role": "assistant", "content": "The lesion is in the left frontal lobe."}]
    path = _write(tmp_path / "t.jsonl", [{"messages": _chat(), "images": [image]},
                                         {"messages": multi_turn, "images": [image]}])
    collator = ChatCollator(processor, max_length=512, max_image_pixels=768 * 768)
    batch = collator(read_jsonl(path))
    tokenizer = processor.tokenizer
    learned = []
    for row in range(2):
        ids = batch.inputs["input_ids"][row].tolist()
        labels = batch.labels[row].tolist()
        learned.append(tokenizer.decode([i for i, label in zip(ids, labels) if label != IGNORE_INDEX]))
    assert learned[0] == "The answer is B.<|im_end|>\n"
    assert learned[1] == "A<|im_end|>\nThe lesion is in the left frontal lobe.<|im_end|>\n"
    labels = batch.labels
    assert bool((labels[batch.inputs["attention_mask"] == 0] == IGNORE_INDEX).all())
    image_positions = batch.inputs["input_ids"] == processor.image_token_id
    assert int(image_positions.sum()) > 0
    assert bool((labels[image_positions] == IGNORE_INDEX).all())
    assert batch.label_tokens == int((labels[:, 1:] != IGNORE_INDEX).sum())


def test_size_policy_applies_before_processor(tmp_path, processor):
    from PIL import Image

    Image.new("RGB", (800, 400), "white").save(tmp_path / "wide.png")
    path = _write(tmp_path / "t.jsonl", [{"messages": _chat(), "images": ["wide.png"]}])
    collator = ChatCollator(processor, max_length=512, max_image_pixels=10_000)
    shrunk = collator.load_images(read_jsonl(path)[0])[0]
    assert shrunk.size == (141, 70)  # 800 x 400 scaled by sqrt(10000 / 320000), aspect kept


def test_long_prompt_skipped_and_long_reply_truncated(tmp_path, image, processor):
    records = [{"messages": _chat(answer="The answer is B. " * 30), "images": [image]},
               {"messages": _chat(user="<image>" + "Which sequence is this? " * 40), "images": [image]}]
    path = _write(tmp_path / "t.jsonl", records)
    collator = ChatCollator(processor, max_length=60, max_image_pixels=768 * 768)
    batch = collator(read_jsonl(path))
    assert batch.keys == ["t.jsonl:1"]
    assert batch.skipped == ["t.jsonl:2"]
    assert batch.inputs["input_ids"].shape[1] == 60
    assert batch.label_tokens > 0


def test_preview_shows_segments(training_set, processor):
    config = FineTuneConfig(datasets=(DatasetSpec("jsonl", str(training_set)),), batch_size=2, val_split=0.2)
    preview = preview_first_batch(config, processor)
    assert len(preview.rows) == 2
    for row in preview.rows:
        kinds = [segment.kind for segment in row.segments]
        assert kinds[0] == PROMPT
        assert IMAGE in kinds
        assert kinds.index(IMAGE) < kinds.index(LABEL)
        assert row.label_tokens > 0
    text = preview.render()
    assert "[[" in text
    assert "<image x" in text
    assert "input_ids" in text


def test_describe_counts_match_batch(training_set, processor):
    collator = ChatCollator(processor, max_length=512, max_image_pixels=768 * 768)
    batch = collator(read_jsonl(training_set)[:3])
    preview = describe_batch(batch, collator)
    assert sum(row.label_tokens for row in preview.rows) == int((batch.labels != IGNORE_INDEX).sum())
