"""The storage resource: Dagster config in front of a Storage backend (folder or S3)."""

from dagster import ConfigurableResource
from pydantic import Field

from dp_resources.storage.backends import Storage, open_storage


class StorageResource(ConfigurableResource):
    """Where every artifact, manifest, state file and frame goes.

    `base` is a folder or `s3://bucket/prefix`; S3 credentials come from the environment
    (DP_S3_ENDPOINT_URL, DP_S3_ACCESS_KEY, DP_S3_SECRET_KEY) unless set here.
    """

    base: str = Field(description="a folder path or s3://bucket/prefix")
    s3_endpoint_url: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None

    def get_storage(self) -> Storage:
        if not self.base.startswith("s3://"):
            return open_storage(self.base)
        return open_storage(
            self.base,
            endpoint_url=self.s3_endpoint_url,
            access_key=self.s3_access_key,
            secret_key=self.s3_secret_key,
        )
