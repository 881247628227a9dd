Feature: Backup and disaster recovery of PostgreSQL
  A backup set is a pg_dump (custom format) plus a manifest with its sha256 and
  each table's row count and content digest. Every scenario works in fresh
  scratch databases on the target's server and drops them afterwards; the live
  target reaches the postgres StatefulSet through a port-forward.

  @T18 @offline @live @dr
  Scenario: A backup restores to a database with identical data
    Given a PostgreSQL database with generated application data
    When it is backed up and restored into an empty database
    Then the backup's checksum verifies
    And the restored data is identical, table by table
    And the restore finished within the RTO

  @T18 @offline @dr
  Scenario Outline: A corrupt backup is refused and the target database is left untouched
    Given a PostgreSQL database with generated application data
    And a backup with <fault>
    When the corrupt backup is restored into a database holding data
    Then the restore is refused naming "checksum"
    And the database still holds its data

    Examples:
      | fault                        |
      | one byte flipped in the dump |
      | the dump truncated           |
      | the manifest deleted         |

  @T18 @offline @dr
  Scenario Outline: A restore that lost or changed data fails the integrity check
    Given a PostgreSQL database with generated application data
    When it is backed up and restored into an empty database
    And the restored data is tampered with: <fault>
    Then the integrity check fails for table "<table>"

    Examples:
      | fault                  | table                |
      | one message deleted    | public.messages      |
      | one user renamed       | public.users         |
      | one conversation added | public.conversations |

  # Off-cluster sets: the environment's S3 bucket (backup.yaml), SSE-KMS with its own key.
  @T18 @offline @static @dr
  Scenario: The backup bucket and its two roles are as designed
    Given the dev environment
    Then the backup stack's checks pass

  @T18 @offline @live @dr
  Scenario: The restore drill restores the newest backup within the RPO and the RTO
    Given the dev environment
    And a PostgreSQL database with generated application data
    And its backup in the environment's bucket
    When the restore drill runs
    Then the newest backup verifies before any restore
    And the drilled database matches the backup's manifest, table by table
    And the RPO and the RTO are within the targets of settings

  # Rehearsed: the nightly drill job (verify-live.yml `drill`) with its own role only, obtained through the
  # OIDC exchange with the claims GitHub sends that job; no kubeconfig. The CronJob's set is uploaded by the
  # operator (kwok runs no container: harness/rehearsal_drill.py CRONJOB_GAP).
  @T18 @rehearsal @dr
  Scenario: The nightly drill job restores the newest backup with its own role's rights alone
    Given the dev environment
    And a PostgreSQL database with generated application data
    And its backup in the bucket, uploaded as the backup CronJob would
    When the nightly workflow's drill job runs the restore drill with its own role
    Then the newest backup verifies before any restore
    And the drilled database matches the backup's manifest, table by table
    And the RPO and the RTO are within the targets of settings
    And the drill job's role may not write the backups nor read the stacks

  @T18 @offline @dr
  Scenario Outline: A corrupt backup in the bucket is refused and the target database is left untouched
    Given the dev environment
    And a PostgreSQL database with generated application data
    And its backup in the environment's bucket
    And the backup in the bucket has <fault>
    When the backup in the bucket is restored into the database holding data
    Then the restore is refused naming "<word>"
    And the database still holds its data

    Examples:
      | fault                                              | word               |
      | one byte flipped in the dump object                | checksum           |
      | the dump object truncated                          | checksum           |
      | the manifest object deleted                        | no manifest.json   |
      | the manifest tampered with                         | tampered manifest  |
      | the dump encrypted with another key                | not the backup key |
      | the dump encrypted with SSE-S3, not the backup key | not aws:kms        |

  # The in-cluster backup CronJob (manifests/base/postgres-backup.yaml): settings.yaml's schedule and
  # database, its own IRSA ServiceAccount (backup.yaml BackupJobRole), the bucket and key alias of backup.yaml.
  @T18 @R8.4 @offline @static @dr
  Scenario: The backup CronJob runs on the schedule of settings as its own IRSA ServiceAccount
    Given the dev overlay rendered with kustomize
    Then the backup CronJob is as settings.yaml and backup.yaml say

  # A NetworkPolicy cannot name S3 or STS: the region's published AWS ranges (provision/kube/data/), on 443.
  @T18 @P7 @R8.2 @offline @dr
  Scenario: The backup pod reaches postgres, DNS and the region's AWS ranges, and nothing else
    Given the dev overlay rendered with kustomize
    Then the backup pod's egress is exactly postgres, DNS and the region's AWS ranges on 443

  # kwok runs no container: the control plane admits the Job and schedules its pod; the dump and upload
  # steps themselves are tests/test_backup_cronjob.py (the script against the real PostgreSQL).
  @T18 @offline @dr
  Scenario: A Job from the backup CronJob is admitted by the restricted namespace and scheduled
    Given the dev overlay rendered with kustomize
    Then a Job from the backup CronJob is admitted under Pod Security restricted and its pod is scheduled
