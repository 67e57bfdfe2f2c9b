"""The step attaches a component's picture as markdown with a data-URI image; a picture that
cannot be drawn is a warning, never the step's failure."""

import base64
import logging
import re
from types import SimpleNamespace

import pytest

from dp_assets.component_step import _preview
from dp_core.artifact import Artifact, ArtifactMeta
from dp_core.errors import ErrorCode
from dp_features.previews import CurveLane, timeline

pytestmark = pytest.mark.unit


def artifact(status="ok") -> Artifact:
    meta = ArtifactMeta(
        component="loudness_extractor",
        component_version="1",
        dataprocessor_version="0",
        run_id="r",
        platform="local",
        video_id="v",
        status=status,
        error_code=ErrorCode.INTERNAL if status == "error" else None,
        config_hash="h",
    )
    return Artifact(meta=meta, arrays={"short_term_lufs": [-20.0, -21.0]})


def step_with(hook):
    return SimpleNamespace(name="loudness_extractor", spec=SimpleNamespace(preview=hook))


CONTEXT = SimpleNamespace(log=logging.getLogger("step"))
VIDEO = SimpleNamespace(partition_key="local__v", upstream={}, storage=None)


def test_the_picture_becomes_markdown_with_its_bytes():
    png = timeline(2.0, [CurveLane("x", [0.0, 1.0], [-20.0, -21.0])])
    metadata = _preview(CONTEXT, step_with(lambda source: png), VIDEO, artifact())
    markdown = metadata["preview"].value
    mime, data = re.fullmatch(
        r"!\[loudness_extractor preview\]\(data:(image/\w+);base64,(.*)\)", markdown
    ).groups()
    assert mime == "image/png" and base64.b64decode(data) == png
    assert metadata["preview_ms"] >= 0


def test_a_hook_sees_the_result_arrays():
    seen = {}
    _preview(CONTEXT, step_with(lambda source: seen.update(source.arrays)), VIDEO, artifact())
    assert seen == {"short_term_lufs": [-20.0, -21.0]}


def test_a_failing_picture_is_a_warning_and_no_metadata(caplog):
    def broken(source):
        raise ValueError("cannot draw")

    with caplog.at_level(logging.WARNING, logger="step"):
        assert _preview(CONTEXT, step_with(broken), VIDEO, artifact()) == {}
    [record] = caplog.records
    assert record.levelno == logging.WARNING and "cannot draw" in record.getMessage()


def test_no_picture_of_an_error_or_empty_result_nor_without_a_hook():
    def must_not_run(source):
        raise AssertionError("called")

    for status in ("error", "empty"):
        assert _preview(CONTEXT, step_with(must_not_run), VIDEO, artifact(status)) == {}
    assert _preview(CONTEXT, step_with(None), VIDEO, artifact()) == {}


def test_bytes_that_are_not_an_image_are_refused_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="step"):
        assert _preview(CONTEXT, step_with(lambda s: b"GIF89a"), VIDEO, artifact()) == {}
    assert "not a PNG or JPEG" in caplog.text
