"""One contract for every `Storage` backend: LocalStorage on a temp folder, S3Storage on a real
SeaweedFS server (tests/fixtures/s3_server.py). Then what only one backend can show."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest

import dp_resources.storage.atomic_files as atomic_files
import dp_resources.storage.backends as backends
from dp_core.errors import DpError, ErrorCode
from dp_resources.storage.backends import LocalStorage, Storage
from dp_resources.storage.s3 import S3Storage
from tests.fixtures.s3_server import ACCESS_KEY, SECRET_KEY

pytestmark = pytest.mark.integration

HOSTILE_KEYS = ["../x", "/abs", "a/../../b", "a\\b", ""]
BIG = (16 << 20) + 12345  # over 16 MiB: three 8 MiB parts on S3, and not a multiple of one


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "store")
    return request.getfixturevalue("s3_storage")


def _s3(server, bucket: str, prefix: str = "", **overrides) -> S3Storage:
    options = {
        "endpoint_url": server.endpoint_url,
        "access_key": server.access_key,
        "secret_key": server.secret_key,
    } | overrides
    return S3Storage.from_url(f"s3://{bucket}/{prefix}", **options)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again on exit: nothing listens there


# --- the contract -----------------------------------------------------------------------------


def test_bytes_round_trip(storage: Storage) -> None:
    data = bytes(range(256)) * 10
    storage.put_bytes("result_store/p/v/run=1/c.npz", data)
    assert storage.get_bytes("result_store/p/v/run=1/c.npz") == data
    storage.put_bytes("empty", b"")
    assert storage.get_bytes("empty") == b""
    assert storage.head("empty").size == 0


def test_put_file_round_trip_large(storage: Storage, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(BIG))
    storage.put_file("frames/big.bin", src)
    info = storage.head("frames/big.bin")
    assert (info.key, info.size) == ("frames/big.bin", BIG)
    assert storage.get_bytes("frames/big.bin") == src.read_bytes()
    storage.get_file("frames/big.bin", tmp_path / "back.bin")  # streamed (multipart on S3)
    assert (tmp_path / "back.bin").read_bytes() == src.read_bytes()


def test_head_reports_size(storage: Storage) -> None:
    storage.put_bytes("a/b.json", b"12345")
    info = storage.head("a/b.json")
    assert (info.key, info.size) == ("a/b.json", 5)


def test_missing_key_is_file_not_found(storage: Storage, tmp_path: Path) -> None:
    storage.put_bytes("dir/obj", b"x")
    for key in ("nope", "dir/nope", "dir"):  # "dir" is only a prefix, not an object
        with pytest.raises(FileNotFoundError):
            storage.get_bytes(key)
        with pytest.raises(FileNotFoundError):
            storage.head(key)
        with pytest.raises(FileNotFoundError):
            storage.get_file(key, tmp_path / "out")
        assert not storage.exists(key)


def test_exists(storage: Storage) -> None:
    assert not storage.exists("k")
    storage.put_bytes("k", b"v")
    assert storage.exists("k")


def test_list_sorted_and_prefix_isolated(storage: Storage) -> None:
    for key in ["a/z", "a/b/2", "a/b/1", "a/a", "ab/x", "b/y", "a.txt"]:
        storage.put_bytes(key, key.encode())
    assert list(storage.list("a")) == ["a/a", "a/b/1", "a/b/2", "a/z"]
    assert list(storage.list("a/b")) == ["a/b/1", "a/b/2"]
    assert list(storage.list("ab")) == ["ab/x"]
    assert list(storage.list("missing")) == []


def test_delete(storage: Storage) -> None:
    storage.put_bytes("d/x", b"1")
    storage.put_bytes("d/y", b"2")
    storage.delete("d/x")
    assert not storage.exists("d/x")
    assert list(storage.list("d")) == ["d/y"]
    storage.delete("d/x")  # deleting a missing key is not an error
    storage.delete("d/y")
    assert list(storage.list("d")) == []  # no directory marker left behind


def test_overwrite(storage: Storage, tmp_path: Path) -> None:
    storage.put_bytes("o", b"first version, longer")
    storage.put_bytes("o", b"second")
    assert storage.get_bytes("o") == b"second"
    assert storage.head("o").size == 6
    src = tmp_path / "third"
    src.write_bytes(b"3")
    storage.put_file("o", src)
    assert storage.get_bytes("o") == b"3"


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_hostile_keys_rejected(storage: Storage, key: str, tmp_path: Path) -> None:
    src = tmp_path / "f"
    src.write_bytes(b"x")
    calls = [
        lambda: storage.put_bytes(key, b"x"),
        lambda: storage.put_file(key, src),
        lambda: storage.get_bytes(key),
        lambda: storage.head(key),
        lambda: storage.exists(key),
        lambda: list(storage.list(key)),
        lambda: storage.delete(key),
    ]
    for call in calls:
        with pytest.raises(DpError) as info:
            call()
        assert info.value.code is ErrorCode.CONFIG_INVALID
    assert not (tmp_path / "x").exists() and not Path("/abs").exists()


def test_describe_has_no_secret_or_local_path(storage: Storage, tmp_path: Path) -> None:
    storage.put_bytes("k", b"v")
    described = storage.describe()
    text = json.dumps(described)
    assert str(tmp_path) not in text
    assert not any(isinstance(v, str) and v.startswith("/") for v in described.values())
    if isinstance(storage, S3Storage):
        assert SECRET_KEY not in text and ACCESS_KEY not in text
        assert storage.describe() == {
            "kind": "s3",
            "bucket": storage.bucket,
            "prefix": "store/root",
            "endpoint_url": storage.endpoint_url,
        }
    else:
        assert storage.describe() == {"kind": "local"}


# --- S3 only ----------------------------------------------------------------------------------


def test_s3_large_put_file_is_multipart(s3_server, s3_storage: S3Storage, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(BIG))
    s3_storage.put_file("big.bin", src)
    raw = s3_server.client().head_object(Bucket=s3_storage.bucket, Key="store/root/big.bin")
    assert raw["ETag"].strip('"').endswith("-3")  # a multipart ETag names its part count


def test_s3_keys_live_under_the_store_prefix(s3_server, s3_storage: S3Storage) -> None:
    s3_storage.put_bytes("a/b", b"x")
    raw = s3_server.client().list_objects_v2(Bucket=s3_storage.bucket)
    assert [obj["Key"] for obj in raw["Contents"]] == ["store/root/a/b"]


def test_s3_second_independent_instance_reads(s3_server, s3_storage: S3Storage) -> None:
    s3_storage.put_bytes("shared/obj", b"written by the first")
    second = _s3(s3_server, s3_storage.bucket, "store/root")
    assert second.get_bytes("shared/obj") == b"written by the first"
    assert list(second.list("shared")) == ["shared/obj"]
    other_prefix = _s3(s3_server, s3_storage.bucket, "store/other")
    assert not other_prefix.exists("shared/obj")
    assert list(other_prefix.list("shared")) == []


def test_s3_options_from_env(s3_server, s3_storage, monkeypatch: pytest.MonkeyPatch) -> None:
    s3_storage.put_bytes("k", b"v")
    monkeypatch.setenv("DP_S3_ENDPOINT_URL", s3_server.endpoint_url)
    monkeypatch.setenv("DP_S3_ACCESS_KEY", s3_server.access_key)
    monkeypatch.setenv("DP_S3_SECRET_KEY", s3_server.secret_key)
    monkeypatch.delenv("DP_S3_REGION", raising=False)
    from_env = backends.open_storage(f"s3://{s3_storage.bucket}/store/root")
    assert isinstance(from_env, S3Storage)
    assert from_env.get_bytes("k") == b"v"
    assert s3_server.secret_key not in json.dumps(from_env.describe())


@pytest.mark.parametrize(
    ("access_key", "secret_key"),
    [("wrong-key", "wrong-secret"), (ACCESS_KEY, "wrong-secret")],
    ids=["unknown-key", "bad-signature"],
)
def test_s3_wrong_credentials(s3_server, s3_storage, access_key: str, secret_key: str) -> None:
    s3_storage.put_bytes("k", b"v")
    wrong = _s3(
        s3_server, s3_storage.bucket, "store/root", access_key=access_key, secret_key=secret_key
    )
    calls = [
        lambda: wrong.put_bytes("k2", b"x"),
        lambda: wrong.get_bytes("k"),
        lambda: wrong.head("k"),
        lambda: wrong.exists("missing"),  # refused, not "does not exist"
        lambda: list(wrong.list("k")),
        lambda: wrong.delete("k"),
    ]
    for call in calls:
        with pytest.raises(DpError) as info:
            call()
        assert info.value.code is ErrorCode.STORAGE_ERROR
        assert s3_storage.bucket in info.value.message
        assert s3_server.endpoint_url in info.value.message
        assert secret_key not in info.value.message
    assert s3_storage.get_bytes("k") == b"v"  # nothing was changed


def test_s3_missing_bucket_is_storage_error(s3_server) -> None:
    gone = _s3(s3_server, "no-such-bucket-dp-test", "p")
    for call in [
        lambda: gone.head("k"),  # HEAD 404 alone would look like a missing key
        lambda: gone.exists("k"),
        lambda: gone.get_bytes("k"),
        lambda: list(gone.list("k")),
        lambda: gone.put_bytes("k", b"x"),
    ]:
        with pytest.raises(DpError) as info:
            call()
        assert info.value.code is ErrorCode.STORAGE_ERROR
        assert "no-such-bucket-dp-test" in info.value.message


def test_s3_unreachable_endpoint_fails_fast(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    dead = S3Storage.from_url("s3://bucket/p", endpoint, "key", "secret")
    src = tmp_path / "f"
    src.write_bytes(b"x")
    calls = [
        lambda: dead.put_bytes("k", b"x"),
        lambda: dead.put_file("k", src),
        lambda: dead.get_bytes("k"),
        lambda: dead.head("k"),
        lambda: list(dead.list("k")),
        lambda: dead.delete("k"),
    ]
    for call in calls:
        started = time.monotonic()
        with pytest.raises(DpError) as info:
            call()
        assert time.monotonic() - started < 5.0
        assert info.value.code is ErrorCode.STORAGE_ERROR
        assert endpoint in info.value.message and "bucket" in info.value.message


@pytest.mark.parametrize("url", ["s3://", "s3:///p", "http://b/p", "s3://b/../x", "s3://b/a\\b"])
def test_s3_bad_url_is_config_invalid(url: str) -> None:
    with pytest.raises(DpError) as info:
        S3Storage.from_url(url, "http://127.0.0.1:1", "k", "s")
    assert info.value.code is ErrorCode.CONFIG_INVALID


# --- LocalStorage only: atomic writes ---------------------------------------------------------


def _crash_midway(src, dst, chunk: int = 0) -> None:
    data = src.read()
    dst.write(data[: len(data) // 2])
    dst.flush()  # the half really reaches the temp file on disk
    raise RuntimeError("simulated crash while writing")


def _all_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_local_crash_midway_leaves_no_object(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalStorage(tmp_path / "store")
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(1 << 20))
    monkeypatch.setattr(atomic_files, "_copy_stream", _crash_midway)
    with pytest.raises(RuntimeError, match="simulated crash"):
        store.put_file("run/obj.npz", src)
    assert not store.exists("run/obj.npz")
    with pytest.raises(FileNotFoundError):
        store.get_bytes("run/obj.npz")
    assert list(store.list("run")) == []
    assert _all_files(tmp_path / "store") == []  # the temp file was cleaned up too


def test_local_failed_overwrite_keeps_old_object(tmp_path, monkeypatch) -> None:
    store = LocalStorage(tmp_path / "store")
    store.put_bytes("run/obj.npz", b"the good old version")
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(1 << 20))
    monkeypatch.setattr(atomic_files, "_copy_stream", _crash_midway)
    with pytest.raises(RuntimeError, match="simulated crash"):
        store.put_file("run/obj.npz", src)
    assert store.get_bytes("run/obj.npz") == b"the good old version"
    assert store.head("run/obj.npz").size == len(b"the good old version")
    assert list(store.list("run")) == ["run/obj.npz"]
    assert _all_files(tmp_path / "store") == ["run/obj.npz"]


def test_list_info_agrees_with_head_and_sees_every_rewrite(storage: Storage) -> None:
    """Reuse checks trust a listing's size + version in place of a HEAD (and a remembered
    digest while the version holds): both must say the same, and other bytes must change
    the version."""
    storage.put_bytes("v/run/a.npz", b"first")
    storage.put_bytes("v/run/sub/b.npz", b"second")
    listed = {info.key: info for info in storage.list_info("v")}
    assert set(listed) == {"v/run/a.npz", "v/run/sub/b.npz"}
    for key, info in listed.items():
        assert info == storage.head(key)
    storage.put_bytes("v/run/a.npz", b"fIrst")  # one byte flipped, same size
    assert storage.head("v/run/a.npz").version != listed["v/run/a.npz"].version
    assert list(storage.list_info("nothing-here")) == []
