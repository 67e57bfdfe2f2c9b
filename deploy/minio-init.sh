#!/bin/sh
# Run once by the compose service `minio-init`: bucket + the workers' access key.
set -eu
mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD"
mc mb --ignore-existing "local/$DP_S3_BUCKET"
if ! mc admin user info local "$DP_S3_ACCESS_KEY" >/dev/null 2>&1; then
  mc admin user add local "$DP_S3_ACCESS_KEY" "$DP_S3_SECRET_KEY"
fi
mc admin policy attach local readwrite --user "$DP_S3_ACCESS_KEY" || true
echo "bucket $DP_S3_BUCKET ready"
