Feature: Backup and disaster recovery of PostgreSQL
  @R6.5 @offline @live @dr
  Scenario: A backup restores to a database with identical data
    Given a PostgreSQL database with generated application data
    When it is backed up and restored into an empty database
    Then the restored data is identical, table by table

  @R6.5 @offline @dr
  Scenario: A corrupt backup is refused and the target database is left untouched
    Given a PostgreSQL database with generated application data
    And a backup whose bytes were corrupted
    When the corrupt backup is restored into a database holding data
    Then the restore is refused naming "checksum"
    And the database still holds its data
