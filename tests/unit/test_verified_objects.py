"""`ObjectVerifier` and its cache (dp_resources/storage/verified_objects.py): an object is
verified only when the storage holds it with the bytes its writer recorded; a cached verdict
holds only while the object's size and version are the ones hashed. On a real folder
storage, digests computed here with hashlib (independent of dp_core.hashing)."""

import hashlib
import threading

import pytest

from dp_core.errors import DpError, ErrorCode
from dp_resources.storage.backends import LocalStorage
from dp_resources.storage.verified_objects import ObjectVerifier, VerifiedCache

pytestmark = pytest.mark.unit
KEY = "result_store/local/v/run1/segmenter.npz"
DATA = b"the artifact's bytes"
DIGEST = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def storage(tmp_path):
    store = LocalStorage(tmp_path / "store")
    store.put_bytes(KEY, DATA)
    return store


@pytest.fixture
def cache(tmp_path):
    cache = VerifiedCache(tmp_path / "cache" / "verified.sqlite")
    yield cache
    cache.close()


def test_an_object_with_its_recorded_bytes_is_verified_by_reading_it(storage):
    verifier = ObjectVerifier(storage)
    assert verifier.problem(KEY, DIGEST) is None
    assert (verifier.bytes_read, verifier.heads) == (len(DATA), 1)


def test_a_missing_digest_is_never_a_verdict_of_good(storage):
    verifier = ObjectVerifier(storage)
    assert verifier.problem(KEY, "") == f"{KEY}: no recorded digest"
    assert verifier.problem("", DIGEST) == "an artifact: no recorded digest"
    assert verifier.bytes_read == 0 and verifier.heads == 0


def test_a_missing_object_is_named_with_the_storage(storage):
    verifier = ObjectVerifier(storage)
    assert verifier.problem("result_store/x.npz", DIGEST) == (
        f"result_store/x.npz: missing from {storage.base}"
    )


def test_other_bytes_are_named_with_both_digests(storage):
    other = b"other bytes"
    storage.put_bytes(KEY, other)
    actual = hashlib.sha256(other).hexdigest()
    assert ObjectVerifier(storage).problem(KEY, DIGEST) == (
        f"{KEY}: sha256 {actual[:12]}… does not match the recorded {DIGEST[:12]}…"
    )


def test_a_cached_verdict_costs_no_read_until_the_object_is_rewritten(storage, cache):
    first = ObjectVerifier(storage, cache)
    assert first.problem(KEY, DIGEST) is None and first.bytes_read == len(DATA)
    again = ObjectVerifier(storage, cache)
    assert again.problem(KEY, DIGEST) is None
    assert (again.bytes_read, again.heads) == (0, 1)  # one stat, no read
    # a rewrite with the same size (one flipped byte) changes the version: read and hash again
    flipped = bytes([DATA[0] ^ 1]) + DATA[1:]
    storage.put_bytes(KEY, flipped)
    after = ObjectVerifier(storage, cache)
    assert after.problem(KEY, DIGEST).startswith(f"{KEY}: sha256 ")
    assert after.bytes_read == len(flipped)


def test_a_cached_verdict_is_for_one_digest_and_one_storage(tmp_path, storage, cache):
    assert ObjectVerifier(storage, cache).problem(KEY, DIGEST) is None
    # asked with another digest: the cache does not say yes, the bytes say no
    wrong = hashlib.sha256(b"x").hexdigest()
    assert ObjectVerifier(storage, cache).problem(KEY, wrong) is not None
    # another storage holding a different object under the same key is read, not trusted
    other = LocalStorage(tmp_path / "other")
    other.put_bytes(KEY, b"different")
    verifier = ObjectVerifier(other, cache)
    assert verifier.problem(KEY, DIGEST) is not None and verifier.bytes_read == len(b"different")


def test_the_cache_remembers_size_and_version_exactly(tmp_path):
    path = tmp_path / "home" / "cache" / "dp" / "v.sqlite"  # folders made as needed
    cache = VerifiedCache(path)
    cache.remember("base", "k", 10, "v1", "abc")
    assert cache.known("base", "k", 10, "v1") == "abc"
    assert cache.known("base", "k", 11, "v1") is None
    assert cache.known("base", "k", 10, "v2") is None
    assert cache.known("other", "k", 10, "v1") is None
    assert cache.known("base", "k2", 10, "v1") is None
    cache.remember("base", "k", 10, "v1", "def")  # the newest verdict replaces the old one
    cache.close()
    reopened = VerifiedCache(path)  # on disk: a new process asks the same file
    assert reopened.known("base", "k", 10, "v1") == "def"
    reopened.close()


def test_keys_under_a_listed_prefix_need_no_head(storage):
    verifier = ObjectVerifier(storage)
    verifier.prefetch("result_store/local/v")
    assert verifier.problem(KEY, DIGEST) is None
    assert verifier.heads == 0
    # a key under the listed prefix that the listing lacks is missing, without asking again
    gone = "result_store/local/v/run1/later.npz"
    storage.put_bytes(gone, DATA)  # written after the listing: the listing decides
    assert verifier.problem(gone, DIGEST) == f"{gone}: missing from {storage.base}"
    assert verifier.heads == 0
    # outside the prefix: one HEAD
    storage.put_bytes("frames_dir/local/v/run1/x", DATA)
    assert verifier.problem("frames_dir/local/v/run1/x", DIGEST) is None
    assert verifier.heads == 1


def test_forgotten_listings_are_asked_again(storage):
    verifier = ObjectVerifier(storage)
    verifier.prefetch("result_store/local/v")
    later = "result_store/local/v/run2/segmenter.npz"
    storage.put_bytes(later, DATA)
    verifier.forget_listings()
    assert verifier.problem(later, DIGEST) is None and verifier.heads == 1
    assert verifier.problem(KEY, DIGEST) is None and verifier.heads == 2


def test_a_prefix_matches_whole_folders_only(storage):
    verifier = ObjectVerifier(storage)
    verifier.prefetch("result_store/local/v")
    neighbour = "result_store/local/v2/run1/segmenter.npz"  # "v" is a prefix of "v2"
    storage.put_bytes(neighbour, DATA)
    assert verifier.problem(neighbour, DIGEST) is None and verifier.heads == 1


def test_an_object_gone_between_head_and_read_is_missing(storage, monkeypatch):
    verifier = ObjectVerifier(storage)

    def vanished(key):
        raise FileNotFoundError(key)

    monkeypatch.setattr(storage, "get_bytes", vanished)
    assert verifier.problem(KEY, DIGEST) == f"{KEY}: missing from {storage.base}"


def test_require_raises_not_found_for_missing_and_corrupt_for_changed(storage):
    verifier = ObjectVerifier(storage)
    assert verifier.require(KEY, DIGEST) is None
    with pytest.raises(DpError) as missing:
        verifier.require("result_store/none.npz", DIGEST)
    assert missing.value.code is ErrorCode.INPUT_NOT_FOUND
    assert missing.value.message == f"result_store/none.npz: missing from {storage.base}"
    storage.put_bytes(KEY, b"changed")
    with pytest.raises(DpError) as changed:
        verifier.require(KEY, DIGEST)
    assert changed.value.code is ErrorCode.INPUT_CORRUPT
    assert changed.value.message.startswith(f"{KEY}: sha256 ")


def test_the_cache_answers_threads_other_than_its_opener(tmp_path, storage, cache):
    """Reuse checks of a batch's videos run in threads: one cache serves them all."""
    verdicts = []
    worker = threading.Thread(
        target=lambda: verdicts.append(ObjectVerifier(storage, cache).problem(KEY, DIGEST))
    )
    worker.start()
    worker.join()
    assert verdicts == [None]
    again = ObjectVerifier(storage, cache)
    assert again.problem(KEY, DIGEST) is None and again.bytes_read == 0
