"""Sidecars are read field by field: one bad field is named and dropped, the rest kept."""

import json

import pytest

from dp_assets.uploads import prepare_upload
from dp_core.errors import DpError, ErrorCode
from dp_core.sidecar import parse_sidecar, read_sidecar

pytestmark = pytest.mark.unit


def test_one_invalid_field_keeps_the_valid_ones_and_names_itself():
    reading = read_sidecar(
        json.dumps({"video_id": "nested1", "title": {"a": 1}, "tags": ["x", 2]}).encode(), "n.json"
    )
    assert reading.sidecar.video_id == "nested1" and reading.sidecar.title is None
    assert reading.sidecar.tags == []
    assert any("title" in p for p in reading.problems) and any(
        "tags" in p for p in reading.problems
    )
    with pytest.raises(DpError) as info:
        parse_sidecar(json.dumps({"video_id": "v", "title": 3}).encode(), "s.json")
    assert info.value.code is ErrorCode.INPUT_CORRUPT and "title" in info.value.message


@pytest.mark.parametrize("raw", [b"\xff\xfe", b"{not json", b"[1, 2]"])
def test_an_unreadable_sidecar_is_input_corrupt(raw):
    with pytest.raises(DpError) as info:
        read_sidecar(raw, "bad.json")
    assert info.value.code is ErrorCode.INPUT_CORRUPT and "bad.json" in info.value.message


def test_the_video_keeps_its_sidecar_id_when_another_field_is_bad(tmp_path):
    video = tmp_path / "file_name.mp4"
    video.write_bytes(b"0" * 10)
    (tmp_path / "file_name.json").write_text(
        json.dumps({"video_id": "nested1", "title": {"a": 1}, "description": "kept"})
    )
    record = prepare_upload(video)
    assert record.video_id == "nested1" and record.partition_key == "local__nested1"
    assert record.sidecar == {**record.sidecar, "description": "kept", "title": None}
    assert record.sidecar_error_code == "INPUT_CORRUPT" and "title" in record.sidecar_error
    assert len(record.sidecar_problems) == 1 and "title" in record.sidecar_problems[0]


def test_an_unreadable_sidecar_falls_back_to_the_file_name(tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"0" * 10)
    (tmp_path / "clip.json").write_bytes(b"\xff")
    record = prepare_upload(video)
    assert record.video_id == "clip" and record.sidecar is None
    assert record.sidecar_error_code == "INPUT_CORRUPT"
