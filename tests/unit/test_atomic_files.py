"""Atomic publication: readers see the old content or the new, never a part; modes follow
the umask."""

import os
import stat

import pytest

from dp_resources.storage.atomic_files import (
    TEMP_PREFIX,
    publish_bytes,
    publish_copy,
    publish_dir,
    publish_stream,
    publish_text,
    staging_dir,
)

pytestmark = pytest.mark.unit


@pytest.fixture
def umask():
    """`umask(value)` sets the process umask for one test; the old one is restored after."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def temp_files(folder) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_publish_creates_parents_and_replaces_old_content(tmp_path):
    path = tmp_path / "a" / "b" / "obj.json"
    publish_text(path, '{"v": 1}')
    publish_bytes(path, b'{"v": 2}')
    assert path.read_bytes() == b'{"v": 2}'
    assert temp_files(path.parent) == []


def test_publish_copy_copies_a_file_larger_than_one_block(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom((8 << 20) + 123))
    publish_copy(source, tmp_path / "out" / "copy.bin")
    assert (tmp_path / "out" / "copy.bin").read_bytes() == source.read_bytes()


def test_a_failure_mid_write_keeps_the_old_content_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "obj.bin"
    publish_bytes(path, b"old")

    def half_then_fail(f):
        f.write(b"new, but only half")
        f.flush()
        assert temp_files(tmp_path), "the partial write goes to a temp file"
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        publish_stream(path, half_then_fail)
    assert path.read_bytes() == b"old"
    assert temp_files(tmp_path) == []


def test_a_failed_first_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        publish_stream(tmp_path / "new.bin", lambda f: (_ for _ in ()).throw(RuntimeError("x")))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_file_and_folder_modes_follow_the_umask(tmp_path, umask, mask):
    umask(mask)
    publish_bytes(tmp_path / "f.bin", b"x")
    assert mode(tmp_path / "f.bin") == 0o666 & ~mask
    target = tmp_path / "folder"
    with staging_dir(target) as staging:
        (staging / "inside.txt").write_text("x")
        publish_dir(staging, target)
    assert mode(target) == 0o777 & ~mask


def test_publish_dir_makes_a_new_folder_appear_whole(tmp_path):
    target = tmp_path / "models" / "m1"
    with staging_dir(target) as staging:
        assert staging.parent == target.parent and not target.exists()
        (staging / "model.onnx").write_bytes(b"weights")
        publish_dir(staging, target)
    assert sorted(p.name for p in target.iterdir()) == ["model.onnx"]
    assert temp_files(target.parent) == []


def test_publish_dir_replaces_an_existing_folder_without_mixing(tmp_path):
    target = tmp_path / "m1"
    target.mkdir()
    (target / "old_only.txt").write_text("old")
    (target / "shared.txt").write_text("old")
    with staging_dir(target) as staging:
        (staging / "shared.txt").write_text("new")
        publish_dir(staging, target)
    assert {p.name: p.read_text() for p in target.iterdir()} == {"shared.txt": "new"}
    assert temp_files(tmp_path) == []


def test_a_failed_staging_is_removed_and_the_old_folder_stays(tmp_path):
    target = tmp_path / "m1"
    target.mkdir()
    (target / "model.onnx").write_text("old")
    with pytest.raises(ValueError), staging_dir(target) as staging:
        (staging / "model.onnx").write_text("half")
        raise ValueError("conversion failed")
    assert (target / "model.onnx").read_text() == "old"
    assert temp_files(tmp_path) == []
