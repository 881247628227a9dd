Feature: Health-gated, SHA-tagged, idempotent deploys with automatic rollback
  `provision app deploy --env dev --image-tag <sha>` applies the overlay with
  server-side apply, waits for every pod to be Running and Ready, and rolls
  back to the previous revision when the new one never becomes healthy.

  @R1.2 @R1.3 @R10.2 @R10.5 @P4 @offline
  Scenario: A healthy deploy creates every resource and waits for Ready pods
    Given a fresh namespace on the cluster
    When version "good" is deployed
    Then the deploy succeeds
    And every owned resource exists
    And every pod is Running and Ready and every service has ready endpoints

  @R1.3 @R10.2 @R4.5 @P4 @live @smoke
  Scenario: The live deployment is healthy
    Given the live deployment of the dev environment
    Then every pod is Running and Ready and every service has ready endpoints

  @P2 @R1.2 @R6.3 @offline
  Scenario: Deploying the same version twice changes nothing
    Given a fresh namespace on the cluster
    When version "good" is deployed
    And version "good" is deployed again
    Then the second deploy reports no changes and no resourceVersion changed

  @P2 @offline @property
  Scenario: Any number of identical applies yields the same state (property)
    Given a fresh namespace on the cluster
    Then for at least 100 generated repeat counts and orders the applied state is identical

  @P3 @R5.3 @offline
  Scenario: The cluster runs exactly the deployed commit's images
    Given a fresh namespace on the cluster
    When version "good" is deployed
    Then every app container runs the image tagged with that commit SHA

  @P3 @offline @property
  Scenario: For any commit SHA the cluster runs exactly that tag, and malformed tags change nothing (property)
    Given a fresh namespace on the cluster
    Then for at least 100 generated tags valid SHAs deploy as themselves and malformed ones are rejected unchanged

  @P4 @R10.2 @offline
  Scenario Outline: A deploy whose pods never become healthy is not a success
    Given a fresh namespace on the cluster
    And version "good" is deployed
    When version "<bad>" is deployed
    Then the deploy fails naming "<reason>"

    Examples:
      | bad        | reason          |
      | never-ready | not Ready      |
      | crashloop  | CrashLoopBackOff |
      | too-big    | Insufficient    |

  @P5 @R1.5 @R10.3 @R5.4 @offline
  Scenario Outline: A failed deploy rolls back to the last stable version, staying available
    Given a fresh namespace on the cluster
    And version "good" is deployed
    When version "<bad>" is deployed
    Then the deploy fails and rolls back to version "good"
    And the ready replicas never dropped below the desired count

    Examples:
      | bad         |
      | never-ready |
      | crashloop   |

  @P5 @offline @property
  Scenario: For any bad version and failure kind the previous version is restored (property)
    Given a fresh namespace on the cluster
    Then for at least 100 generated failure kinds the previous stable version is restored

  @R10.5 @R6.4 @offline
  Scenario: Every deploy leaves a history record readable by provision app status
    Given a fresh namespace on the cluster
    When version "good" is deployed
    And version "never-ready" is deployed
    Then the deploy history lists both with their SHA, time, actor and result

  @R9.3 @offline
  Scenario: A ConfigMap change restarts only the workloads that use it
    Given a fresh namespace on the cluster
    And version "good" is deployed
    When the app-config ConfigMap changes
    Then only the workloads that use app-config are restarted

  @R9.4 @offline @security
  Scenario: The app's secret is made at deploy time from the secret source and never shown
    Given a fresh namespace on the cluster
    When version "good" is deployed
    Then Secret app-secrets holds exactly the keys the workloads read, with the source's values
    And no secret value appears in the deploy's output, its history or the saved last-good set

  @R9.4 @offline @security
  Scenario: A secret source that lacks a key refuses the deploy and applies nothing
    Given a fresh namespace on the cluster
    And a secret source without the key "jwt-secret"
    When a deploy is attempted from that secret source
    Then it is refused naming "jwt-secret" and nothing is applied

  @R9.5 @offline
  Scenario Outline: A deploy never lands in the wrong environment
    Given a fresh namespace on the cluster
    When a deploy is attempted with <input>
    Then it is refused with one clear line and nothing is applied

    Examples:
      | input                         |
      | the environment "staging"     |
      | the image tag "latest"        |
      | the cluster of "prod" for dev |

  @R6.3 @offline @live
  Scenario: The cluster's objects come only from version-controlled manifests
    Given a fresh namespace on the cluster
    When version "good" is deployed
    Then every owned object is managed by the provisioner's field manager from the repository's overlay

  @R10.1 @offline @live
  Scenario: Push to running stays within 10 minutes
    Given the deploy history of the target
    Then the last successful deploy took at most 600 seconds from start to healthy
