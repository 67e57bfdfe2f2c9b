import io
import json
import zipfile

import numpy as np
import pytest

from dp_core.artifact import Artifact, ModelUsed, decode_artifact, encode_artifact
from dp_core.errors import DpError, ErrorCode
from tests.fixtures.artifacts import artifact_meta as meta

pytestmark = pytest.mark.unit


def clip_model(**overrides) -> ModelUsed:
    fields = dict(
        name="clip-vit-b32",
        version="1",
        weights_digest="0" * 64,
        engine="onnxruntime",
        precision="fp32",
        device="cpu",
    )
    return ModelUsed(**{**fields, **overrides})


def test_round_trip_keeps_arrays_strings_and_meta():
    arrays = {
        "embeddings": np.random.default_rng(0).normal(size=(4, 8)).astype(np.float32),
        "labels": np.array(["person", "кошка"]),
    }
    artifact = Artifact(meta(models_used=[clip_model()]), arrays)
    loaded = decode_artifact(encode_artifact(artifact))
    np.testing.assert_array_equal(loaded.arrays["embeddings"], arrays["embeddings"])
    assert loaded.arrays["labels"].tolist() == ["person", "кошка"]
    assert loaded.meta == artifact.meta
    assert loaded.meta.model_signature and loaded.meta.analysis_width == 640


def test_npz_loads_with_plain_numpy_and_no_pickle():
    data = encode_artifact(Artifact(meta(), {"x": np.arange(3)}))
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        assert json.loads(str(npz["meta"]))["component"] == "core_clip"


def test_object_arrays_are_refused_on_write():
    with pytest.raises(DpError, match="dtype object"):
        encode_artifact(Artifact(meta(), {"bad": np.array([{"a": 1}], dtype=object)}))


def test_a_pickled_array_does_not_load():
    buffer = io.BytesIO()
    np.savez(
        buffer, meta=np.array(meta().model_dump_json()), evil=np.array([{"x": 1}], dtype=object)
    )
    with pytest.raises(DpError) as info:
        decode_artifact(buffer.getvalue())
    assert info.value.code is ErrorCode.INPUT_CORRUPT


@pytest.mark.parametrize("missing", ["run_id", "config_hash", "status", "component"])
def test_missing_required_meta_is_named(missing):
    fields = json.loads(meta().model_dump_json())
    del fields[missing]
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.array(json.dumps(fields)))
    with pytest.raises(DpError) as info:
        decode_artifact(buffer.getvalue(), source="x.npz")
    assert info.value.code is ErrorCode.INPUT_CORRUPT and missing in info.value.message


def test_truncated_or_foreign_bytes_are_corrupt():
    data = encode_artifact(Artifact(meta(), {"x": np.arange(1000)}))
    for bad in (data[: len(data) // 2], b"", b"not a zip"):
        with pytest.raises(DpError) as info:
            decode_artifact(bad)
        assert info.value.code is ErrorCode.INPUT_CORRUPT
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("x.npy", b"garbage")
    with pytest.raises(DpError):
        decode_artifact(buffer.getvalue())


def test_error_status_needs_a_code_and_empty_is_valid():
    with pytest.raises(ValueError):
        meta(status="error")
    assert (
        meta(status="error", error_code=ErrorCode.MODEL_NOT_FOUND).error_code.value
        == "MODEL_NOT_FOUND"
    )
    assert meta(status="empty").status == "empty"


def test_model_signature_changes_with_engine_and_precision_only_when_they_change():
    base = meta(models_used=[clip_model()]).model_signature
    assert meta(models_used=[clip_model()]).model_signature == base
    assert meta(models_used=[clip_model(engine="triton")]).model_signature != base
    assert meta(models_used=[clip_model(precision="fp16")]).model_signature != base
    assert meta(models_used=[]).model_signature == ""
    two = [clip_model(), clip_model(name="other")]
    assert meta(models_used=two).model_signature == meta(models_used=two[::-1]).model_signature


def test_stand_in_models_are_labelled():
    stand_in = clip_model(stand_in=True)
    loaded = decode_artifact(encode_artifact(Artifact(meta(models_used=[stand_in]))))
    assert loaded.meta.models_used[0].stand_in is True
