"""`Storage` over an S3-compatible bucket (AWS S3, MinIO, SeaweedFS) through boto3.

Object keys are `<prefix>/<key>` inside one bucket. Writes are atomic by S3's own rules: a
single PUT, or a multipart upload that only becomes visible when it completes.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from dp_core.errors import DpError, ErrorCode
from dp_core.storage_keys import validate_key
from dp_resources.storage.backends import ObjectInfo, Storage

# Fail fast: an unreachable server must surface as STORAGE_ERROR in seconds (the platform
# retries STORAGE_ERROR itself), not after botocore's default 60 s timeouts x 5 attempts.
_CLIENT_CONFIG = Config(
    connect_timeout=3,  # seconds
    read_timeout=10,  # seconds of silence on an open connection
    retries={"max_attempts": 2, "mode": "standard"},  # total attempts, first one included
    s3={"addressing_style": "path"},  # MinIO/SeaweedFS have no virtual-host bucket DNS
)
# A server that did not answer (hung, unreachable) is not asked again for this long, by any
# storage of this process: every later call fails at once with STORAGE_ERROR instead of
# waiting out its own timeouts, so one hung server ends a whole `dp process` in seconds,
# not (timeouts x attempts x retries x videos x steps).
SILENT_SERVER_BACKOFF_S = 30.0
_NO_ANSWER = (ReadTimeoutError, ConnectTimeoutError, EndpointConnectionError, ConnectionClosedError)
_silent_until: dict[str, float] = {}  # endpoint -> monotonic time until which it is not asked
_silent_lock = threading.Lock()
# Files above 8 MiB go up in 8 MiB parts (boto3's defaults, spelled out).
_TRANSFER_CONFIG = TransferConfig(multipart_threshold=8 << 20, multipart_chunksize=8 << 20)
# A missing object: GET answers NoSuchKey, HEAD has no body so only its status code is left.
_MISSING_KEY_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


class S3Storage(Storage):
    def __init__(
        self, bucket: str, prefix: str, client: BaseClient, endpoint_url: str | None = None
    ):
        """Prefer `from_url`. `prefix` is '' or a validated key without trailing '/'."""
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint_url = endpoint_url
        self.base = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
        self._client = client
        self._bucket_checked = False

    @classmethod
    def from_url(
        cls,
        base: str,
        endpoint_url: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str | None = None,
    ) -> S3Storage:
        """Storage for `s3://bucket/optional/prefix`.

        Options left None come from DP_S3_ENDPOINT_URL, DP_S3_ACCESS_KEY, DP_S3_SECRET_KEY and
        DP_S3_REGION (default us-east-1); still-missing credentials/endpoint fall back to
        boto3's default chain (AWS_* variables, ~/.aws, instance role; AWS's own endpoint).
        """
        parts = urlsplit(base)
        if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
            raise DpError(ErrorCode.CONFIG_INVALID, f"not an s3://bucket/prefix URL: {base!r}")
        prefix = parts.path.strip("/")
        if prefix:
            validate_key(prefix)
        endpoint_url = endpoint_url or os.environ.get("DP_S3_ENDPOINT_URL") or None
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key or os.environ.get("DP_S3_ACCESS_KEY") or None,
            aws_secret_access_key=secret_key or os.environ.get("DP_S3_SECRET_KEY") or None,
            region_name=region or os.environ.get("DP_S3_REGION") or "us-east-1",
            config=_CLIENT_CONFIG,
        )
        return cls(parts.netloc, prefix, client, endpoint_url)

    def _key(self, key: str) -> str:
        key = validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    @contextmanager
    def _errors(
        self, action: str, key: str | None = None, *, target: str | None = None
    ) -> Iterator[None]:
        """Translate boto3 failures: missing object (`key` given) → FileNotFoundError, else
        STORAGE_ERROR naming the call and the object (`key` or `target`), so each video's
        message names its own key."""
        where = f"bucket {self.bucket!r} at {self.endpoint_url or 'AWS S3'}"
        target = target or key
        action = f"{action} {target!r}" if target else action
        server = self.endpoint_url or "aws"
        with _silent_lock:
            waited = _silent_until.get(server, 0.0) - time.monotonic()
        if waited > 0:
            raise DpError(
                ErrorCode.STORAGE_ERROR,
                f"{action} not attempted on {where}: the server did not answer a moment ago "
                f"(not asked again for {waited:.0f} s)",
            )
        try:
            yield
        except _NO_ANSWER as exc:
            with _silent_lock:
                _silent_until[server] = time.monotonic() + SILENT_SERVER_BACKOFF_S
            raise DpError(
                ErrorCode.STORAGE_ERROR, f"{action} failed on {where}: no answer ({exc})"
            ) from exc
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if key is not None and code in _MISSING_KEY_CODES:
                raise FileNotFoundError(f"no object {key!r} in {self.base}") from None
            raise DpError(ErrorCode.STORAGE_ERROR, f"{action} failed on {where}: {exc}") from exc
        except NoCredentialsError as exc:
            raise DpError(
                ErrorCode.CONFIG_INVALID,
                f"no S3 credentials for {where}: set DP_S3_ACCESS_KEY and DP_S3_SECRET_KEY "
                "(and DP_S3_ENDPOINT_URL for a server other than AWS S3, e.g. MinIO or "
                "SeaweedFS), or AWS's own AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY",
            ) from exc
        except (BotoCoreError, S3UploadFailedError) as exc:
            raise DpError(ErrorCode.STORAGE_ERROR, f"{action} failed on {where}: {exc}") from exc

    def check_reachable(self) -> None:
        """A HEAD on the bucket: one read-only request (credentials, bucket, endpoint)."""
        with self._errors("head_bucket"):
            self._client.head_bucket(Bucket=self.bucket)

    def _check_bucket(self) -> None:
        # A 404 on HEAD cannot tell a missing key from a missing bucket; ask once per instance
        # so that a typo in the bucket name is an error, not "the object does not exist".
        if not self._bucket_checked:
            with self._errors("head_bucket"):
                self._client.head_bucket(Bucket=self.bucket)
            self._bucket_checked = True

    def put_bytes(self, key: str, data: bytes) -> None:
        with self._errors("put_object", target=key):
            self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def put_file(self, key: str, path: Path) -> None:
        full_key = self._key(key)
        with self._errors("upload_file", target=key):
            self._client.upload_file(str(path), self.bucket, full_key, Config=_TRANSFER_CONFIG)

    def get_bytes(self, key: str) -> bytes:
        full_key = self._key(key)
        with self._errors("get_object", key):
            return self._client.get_object(Bucket=self.bucket, Key=full_key)["Body"].read()

    def get_file(self, key: str, path: Path) -> None:
        full_key = self._key(key)
        with self._errors("download_file", key):
            self._client.download_file(self.bucket, full_key, str(path), Config=_TRANSFER_CONFIG)

    def head(self, key: str) -> ObjectInfo:
        full_key = self._key(key)
        try:
            with self._errors("head_object", key):
                response = self._client.head_object(Bucket=self.bucket, Key=full_key)
        except FileNotFoundError:
            self._check_bucket()
            raise
        # the ETag is S3's digest of the content: a rewrite with other bytes changes it
        return ObjectInfo(key=key, size=int(response["ContentLength"]), version=response["ETag"])

    def list_info(self, prefix: str) -> Iterator[ObjectInfo]:
        """One `list_objects_v2` page per 1000 objects, not a HEAD per object."""
        list_prefix = self._key(prefix) + "/"
        strip = len(self.prefix) + 1 if self.prefix else 0
        found: list[ObjectInfo] = []
        with self._errors("list_objects_v2"):
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=list_prefix
            )
            for page in pages:
                found.extend(
                    ObjectInfo(key=obj["Key"][strip:], size=int(obj["Size"]), version=obj["ETag"])
                    for obj in page.get("Contents", ())
                )
        return iter(found)

    def list(self, prefix: str) -> Iterator[str]:
        # Listed eagerly: errors surface at the call, and the result must be sorted anyway.
        list_prefix = self._key(prefix) + "/"
        strip = len(self.prefix) + 1 if self.prefix else 0
        keys: list[str] = []
        with self._errors("list_objects_v2"):
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=list_prefix
            )
            for page in pages:
                keys.extend(obj["Key"][strip:] for obj in page.get("Contents", ()))
        return iter(sorted(keys))

    def list_page(self, prefix: str, start_after: str, limit: int) -> list[str]:
        """`list_objects_v2` from `StartAfter`, page by page, until `limit` keys."""
        list_prefix = self._key(prefix) + "/"
        strip = len(self.prefix) + 1 if self.prefix else 0
        options = {"Bucket": self.bucket, "Prefix": list_prefix}
        if start_after:
            options["StartAfter"] = self._key(start_after)
        keys: list[str] = []
        with self._errors("list_objects_v2"):
            pages = self._client.get_paginator("list_objects_v2").paginate(
                **options, PaginationConfig={"MaxItems": limit, "PageSize": min(limit, 1000)}
            )
            for page in pages:
                keys.extend(obj["Key"][strip:] for obj in page.get("Contents", ()))
        return keys[:limit]

    def delete(self, key: str) -> None:
        """Delete an object; deleting a missing key is not an error (as on S3 itself)."""
        full_key = self._key(key)
        with self._errors("delete_object"):
            self._client.delete_object(Bucket=self.bucket, Key=full_key)

    def describe(self) -> dict:
        return {
            "kind": "s3",
            "bucket": self.bucket,
            "prefix": self.prefix,
            "endpoint_url": self.endpoint_url,
        }
