"""Hashes that name content: canonical JSON, files, and sets of named files."""

import hashlib

import pytest

from dp_core.hashing import canonical_json, digest_of_files, sha256_bytes, sha256_file, sha256_json

pytestmark = pytest.mark.unit


def test_equal_values_hash_equal_whatever_the_key_order():
    assert canonical_json({"b": 1, "a": [1, 2]}) == '{"a":[1,2],"b":1}'
    assert sha256_json({"b": 1, "a": 2}) == sha256_json({"a": 2, "b": 1})
    assert sha256_json({"a": 1}) == sha256_bytes(b'{"a":1}')


def test_file_hash_is_the_hash_of_its_bytes(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(b"x" * 1000)
    assert sha256_file(path, chunk=7) == sha256_bytes(b"x" * 1000)


def test_digest_of_files_is_over_name_and_hash_lines_in_order(tmp_path):
    (tmp_path / "a.onnx").write_bytes(b"alpha")
    (tmp_path / "b.json").write_bytes(b"beta")
    named = {"a.onnx": tmp_path / "a.onnx", "b.json": str(tmp_path / "b.json")}
    lines = f"a.onnx {sha256_bytes(b'alpha')}\nb.json {sha256_bytes(b'beta')}\n"
    assert digest_of_files(named) == hashlib.sha256(lines.encode()).hexdigest()
    assert digest_of_files(dict(reversed(named.items()))) != digest_of_files(named)
    # a file's name is part of the digest, not only its content
    assert digest_of_files({"c.onnx": tmp_path / "a.onnx"}) != digest_of_files(
        {"a.onnx": tmp_path / "a.onnx"}
    )
