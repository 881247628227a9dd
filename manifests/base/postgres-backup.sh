#!/bin/sh
# The backup CronJob's two steps (manifests/base/postgres-backup.yaml, docs/disaster-recovery.md).
#   dump    (postgres image, init container): pg_dump --format=custom of $PGDATABASE and the set's
#           manifest.json (the dump's sha256 and size; per table the row count and content digest, read in
#           the same exported snapshot as the dump) into $BACKUP_DIR, in the format of
#           provision/backup/manifest.py, so `provision backup restore|drill` verify it like their own sets.
#   upload  (aws-cli image): both files to s3://$BACKUP_BUCKET/$BACKUP_PREFIX<set id>/ with SSE-KMS and the
#           backup key (resolved from its alias), the dump object carrying both checksums in its metadata
#           (provision/backup/store.py). Single PUTs: a multipart upload with SSE-KMS would need
#           kms:Decrypt, which the CronJob's role does not have.
# The password comes in $PGPASSWORD (app-secrets); nothing here prints it.
set -eu
dir="${BACKUP_DIR:-/backup}"

dump() {
  cd "$dir"
  rm -f ctl.sql snapshot stats.json dump.pgc manifest.json set-id
  mkfifo ctl.sql
  psql -X -q -A -t -v ON_ERROR_STOP=1 < ctl.sql > psql.out 2>&1 &
  session=$!
  exec 3> ctl.sql
  # One REPEATABLE READ READ ONLY session: export its snapshot, read the stats in it, keep it open
  # while pg_dump reads the same snapshot. The session settings make a row's text form canonical
  # (provision/backup/dr.py _CANONICAL); the digest is dr.py's _DIGEST, per table through query_to_xml.
  cat >&3 <<'SQL'
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET extra_float_digits = 3;
SET bytea_output = 'hex';
\o snapshot.part
SELECT pg_export_snapshot();
\o stats.part
SELECT coalesce(json_object_agg(name, json_build_object('rows', n, 'digest', d) ORDER BY name), '{}')
FROM (SELECT s.nspname || '.' || c.relname AS name,
             (xpath('/row/n/text()', x))[1]::text::bigint AS n, (xpath('/row/d/text()', x))[1]::text AS d
      FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace,
           LATERAL query_to_xml(format('SELECT count(*) AS n, encode(sha256(convert_to(coalesce(string_agg('
             'md5(t::text), %L ORDER BY md5(t::text)), %L), %L)), %L) AS d FROM %I.%I AS t',
             '', '', 'UTF8', 'hex', s.nspname, c.relname), false, true, '') AS x
      WHERE c.relkind IN ('r', 'p') AND s.nspname NOT IN ('pg_catalog', 'information_schema')
        AND s.nspname NOT LIKE 'pg_toast%' AND s.nspname NOT LIKE 'pg_temp%') AS t;
\o server.part
SHOW server_version;
\o ready
SELECT 1;
\o
SQL
  i=0
  until [ -s ready ]; do
    i=$((i + 1))
    if [ "$i" -gt 600 ] || ! kill -0 "$session" 2>/dev/null; then
      echo "the snapshot session did not start: $(tail -n 3 psql.out)" >&2
      exit 1
    fi
    sleep 0.1
  done
  created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  pg_dump --format=custom --snapshot="$(cat snapshot.part)" --file=dump.pgc
  echo "ROLLBACK;" >&3
  exec 3>&-
  wait "$session"
  sha=$(sha256sum dump.pgc | cut -d' ' -f1)
  size=$(wc -c < dump.pgc | tr -d ' ')
  printf '{"format": "cloudtolocalllm-backup/1", "database": "%s", "source": "%s@%s:%s/%s", "created": "%s",' \
    "$PGDATABASE" "$PGUSER" "$PGHOST" "${PGPORT:-5432}" "$PGDATABASE" "$created" > manifest.json
  printf ' "dump": {"file": "dump.pgc", "format": "custom", "sha256": "%s", "bytes": %s},' "$sha" "$size" >> manifest.json
  printf ' "tables": %s,' "$(cat stats.part)" >> manifest.json
  printf ' "tools": {"pg_dump": "%s", "server": "%s"}, "taken_by": "cronjob"}\n' \
    "$(pg_dump --version)" "$(cat server.part)" >> manifest.json
  # the set id of provision/backup/store.py: <UTC time>-<4 hex>
  printf '%s-%s\n' "$(echo "$created" | tr -d ':')" "$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')" > set-id
  rm -f ctl.sql snapshot.part stats.part server.part ready psql.out
  echo "dump.pgc sha256 $sha ($size bytes)"
}

upload() {
  cd "$dir"
  set_id=$(tr -d '\n' < set-id)
  key_arn=$(aws kms describe-key --key-id "$BACKUP_KEY_ALIAS" --query KeyMetadata.Arn --output text)
  dump_sha=$(sha256sum dump.pgc | cut -d' ' -f1)
  manifest_sha=$(sha256sum manifest.json | cut -d' ' -f1)
  base="$BACKUP_PREFIX$set_id"
  aws s3api put-object --bucket "$BACKUP_BUCKET" --key "$base/dump.pgc" --body dump.pgc \
    --server-side-encryption aws:kms --ssekms-key-id "$key_arn" \
    --metadata "sha256=$dump_sha,manifest-sha256=$manifest_sha" > /dev/null
  aws s3api put-object --bucket "$BACKUP_BUCKET" --key "$base/manifest.json" --body manifest.json \
    --server-side-encryption aws:kms --ssekms-key-id "$key_arn" --metadata "sha256=$manifest_sha" > /dev/null
  echo "backup set s3://$BACKUP_BUCKET/$base/ (dump sha256 $dump_sha)"
}

case "${1:-}" in
  dump) dump ;;
  upload) upload ;;
  *) echo "usage: $0 dump|upload" >&2; exit 2 ;;
esac
