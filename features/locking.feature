Feature: One deployment at a time per cluster
  @P10 @R5.5 @R10.4 @offline
  Scenario: A second deploy waits for the first to release the lock
    Given a fresh namespace on the cluster
    When two deploys start at the same time
    Then they run one after the other
    And the final state is the last one accepted

  @R10.4 @offline
  Scenario: A deploy with --no-wait fails fast naming the holder
    Given a fresh namespace on the cluster
    And the deployment lock is held by "ci-run-41"
    When a deploy is started without waiting
    Then it is refused naming "ci-run-41"

  @P10 @offline
  Scenario: A crashed lock holder is recovered from after the lease expires
    Given a fresh namespace on the cluster
    And the deployment lock is held by a crashed holder with an expired lease
    When version "good" is deployed
    Then the deploy succeeds

  @P10 @offline @property
  Scenario: For any set of concurrent deploys, they run one at a time (property)
    Given a fresh namespace on the cluster
    Then for at least 100 generated interleavings no two lock holders overlap
