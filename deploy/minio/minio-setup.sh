#!/bin/sh
# Compose profile "s3": makes nebu's bucket and its least-privilege MinIO user (run once
# by the minio-setup service; idempotent). nebu may read and write objects in its bucket
# and nothing else: no s3:DeleteObject (media are soft-deleted in nebu's state), no
# s3:ListBucket (no enumeration), no admin operations. The root credentials stay here.
set -eu
root_user=$(cat /run/secrets/minio_root_user)
root_password=$(cat /run/secrets/minio_root_password)
app_secret=$(cat /run/secrets/s3_secret_key)
bucket=${NEBU_S3_BUCKET:-nebu-media}
app_user=${NEBU_S3_ACCESS_KEY_ID:-nebu-app}
mc alias set local http://minio:9000 "${root_user}" "${root_password}" >/dev/null
mc mb --ignore-existing "local/${bucket}"
sed "s/@BUCKET@/${bucket}/g" /setup/nebu-app-policy.json > /tmp/nebu-app-policy.json
mc admin user add local "${app_user}" "${app_secret}"
mc admin policy create local nebu-app /tmp/nebu-app-policy.json
mc admin policy attach local nebu-app --user "${app_user}" || true  # already attached
echo "minio-setup: bucket ${bucket}, user ${app_user} with policy nebu-app"
