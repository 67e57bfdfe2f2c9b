import pytest

from dp_core.errors import DpError, ErrorCode
from dp_core.manifest import ComponentRecord, video_status
from dp_core.sidecar import parse_sidecar
from dp_core.state_journal import StateEvent, checkpoint, decode_events, encode_events

pytestmark = pytest.mark.unit


def record(name, required, status):
    return ComponentRecord(name=name, required=required, status=status)


def test_video_status_follows_required_components():
    assert video_status([record("a", True, "success"), record("b", True, "empty")]) == "success"
    assert video_status([record("a", True, "success"), record("b", False, "error")]) == "success"
    assert video_status([record("a", True, "error")]) == "error"
    assert video_status([record("a", True, "skipped")]) == "error"


def test_journal_round_trip_and_checkpoint():
    events = [
        StateEvent(ts="t1", run_id="r", partition_key="k", component="segmenter", state="waiting"),
        StateEvent(ts="t2", run_id="r", partition_key="k", component="segmenter", state="running"),
        StateEvent(ts="t2", run_id="r", partition_key="k", component="ocr", state="skipped"),
        StateEvent(
            ts="t3",
            run_id="r",
            partition_key="k",
            component="segmenter",
            state="error",
            error_code="INPUT_CORRUPT",
        ),
    ]
    assert decode_events(encode_events(events)) == events
    state = checkpoint(events, run_status="SUCCESS")
    assert state["components"]["segmenter"] == {
        "state": "error",
        "updated_at": "t3",
        "error_code": "INPUT_CORRUPT",
    }
    assert state["complete"] is True
    assert checkpoint(events[:2], "STARTED")["complete"] is False


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (b"\xff\xfe{", "not UTF-8"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"tags": "not-a-list"}', "tags"),
    ],
)
def test_bad_sidecars_are_corrupt_input(data, named):
    with pytest.raises(DpError) as info:
        parse_sidecar(data, "v.json")
    assert info.value.code is ErrorCode.INPUT_CORRUPT and named in info.value.message


def test_sidecar_fields():
    sidecar = parse_sidecar('{"title": "Привет", "tags": ["a"], "extra": 1}'.encode(), "v.json")
    assert sidecar.title == "Привет" and sidecar.tags == ["a"] and sidecar.platform is None
