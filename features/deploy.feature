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
  Scenario: For any failure kind, faulty workloads and previous version, a real failed deploy is rolled back (property)
    Given a fresh namespace on the cluster
    Then for 24 generated failed deploys on the cluster the engine rolls back to the previous stable version, healthy and available

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
    Given a push to the target timed on the harness's clock
    Then it was running and healthy within 600 seconds

  @R10.1 @offline
  Scenario: A push slower than its budget turns the push-to-running check red
    Given a fresh namespace on the cluster
    And a push with an injected 2 second step timed against a budget of 1 seconds
    Then the push-to-running check is red naming "over the 1s budget"

  @R1.2 @offline
  Scenario: An owned object deleted behind the engine's back turns the owned-objects check red
    Given a fresh namespace on the cluster
    And version "good" is deployed
    When the seeded fault "owned object deleted" is applied
    Then the check "every owned resource exists" is red naming the seeded object

  @R6.3 @offline
  Scenario: An object applied by another field manager turns the provenance check red
    Given a fresh namespace on the cluster
    And version "good" is deployed
    When the seeded fault "object applied by another field manager" is applied
    Then the check "every owned object is managed by the provisioner" is red naming the seeded object

  @R5.3 @offline
  Scenario: A pod running another image turns the image check red
    Given a fresh namespace on the cluster
    And version "good" is deployed
    When the seeded fault "pod running another image" is applied
    Then the check "every app container runs the deployed image" is red naming the seeded object

  @R10.2 @offline
  Scenario: A crash-looping version left in place turns the independent health check red
    Given a fresh namespace on the cluster
    And version "good" is deployed
    When version "crashloop" is deployed without rollback
    Then the check "the app is healthy as the API reports it" is red naming "pods not Running and Ready"

  @R10.3 @offline
  Scenario: Ready replicas dropping during a rollout turn the availability check red
    Given a fresh namespace on the cluster
    And version "good" is deployed
    When the first Deployment is scaled to zero and back while availability is sampled
    Then the availability check is red naming that Deployment

  @R9.3 @offline
  Scenario: A ConfigMap changed behind the engine restarts nothing, and the restart check says so
    Given a fresh namespace on the cluster
    And version "good" is deployed
    When the app-config ConfigMap is changed behind the engine
    Then the restart check is red naming "not restarted"

  @R1.2 @offline
  Scenario: An object removed from the repository is pruned once the new version is healthy
    Given a fresh namespace on the cluster
    And version "good-with-extra" is deployed
    When version "good" is deployed
    Then the deploy succeeds and names "seeded-extra" among what it pruned
    And the namespace holds exactly version "good", nothing left over

  @R1.2 @offline
  Scenario: An engine that does not prune leaves the removed object, and the ownership check says so
    Given a fresh namespace on the cluster
    And version "good-with-extra" is deployed
    When version "good" is deployed by an engine that does not prune
    Then the namespace check for version "good" is red naming "ConfigMap/{namespace}/seeded-extra"

  @R1.2 @offline
  Scenario: A claim the repository no longer has is kept unless the deploy is told to prune data
    Given a fresh namespace on the cluster
    And version "good-with-claim" is deployed
    When version "good" is deployed
    Then the claim "seeded-claim" still exists and the deploy says it kept it
    When version "good" is deployed with --prune-data
    Then the namespace holds exactly version "good", nothing left over

  @R1.2 @offline
  Scenario: A prune that would delete a claim turns the claim check red
    Given a fresh namespace on the cluster
    And version "good-with-claim" is deployed
    When version "good" is deployed by an engine whose prune forgot that claims hold data
    Then the claim check for "seeded-claim" is red naming "PersistentVolumeClaim/{namespace}/seeded-claim"

  @R1.5 @P5 @offline
  Scenario: A failed deploy that added an object is rolled back leaving nothing behind, staying available
    Given a fresh namespace on the cluster
    And version "good" is deployed
    When version "crashloop-with-extra" is deployed
    Then the deploy fails and rolls back to version "good"
    And the namespace holds exactly version "good", nothing left over
    And the ready replicas never dropped below the desired count

  @R1.5 @offline
  Scenario: A rollback that leaves what the failed deploy added turns the ownership check red
    Given a fresh namespace on the cluster
    And version "good" is deployed
    When version "crashloop-with-extra" is deployed by an engine that does not prune
    Then the namespace check for version "good" is red naming "NetworkPolicy/{namespace}/seeded-extra"

  @P2 @R1.2 @R1.5 @offline @property
  Scenario: For any sequence of versions, failed deploys and rollbacks the cluster holds exactly the last good version (property)
    Given a fresh namespace on the cluster
    Then for 8 generated sequences of versions, failed deploys and rollbacks the cluster holds exactly the last successful version after every step

  @R6.3 @offline
  Scenario: Right after a deploy there is no drift, judged against the deployed commit and not the checked-out tree
    Given a fresh namespace on the cluster
    And version "good-with-extra" is deployed
    Then the drift check is green
    And provision app diff exits 0

  @R6.3 @offline
  Scenario Outline: A change made by hand is drift: app diff names it and the next deploy takes it back
    Given a fresh namespace on the cluster
    And version "good" is deployed
    When the seeded fault "<fault>" is applied
    Then the check "the cluster matches the deployed commit's render" is red naming the seeded object
    And provision app diff exits 1 naming the seeded object
    When version "good" is deployed again
    Then the deploy says it corrected the seeded object
    And the drift check is green

    Examples:
      | fault                        |
      | replica count edited by hand |
      | image edited by hand         |

  @R6.3 @offline
  Scenario: An object added by hand to the app namespace is drift that app diff names
    Given a fresh namespace on the cluster
    And version "good" is deployed
    When the seeded fault "RoleBinding added by hand" is applied
    Then the check "the cluster matches the deployed commit's render" is red naming the seeded object
    And provision app diff exits 1 naming the seeded object

  @R6.3 @live
  Scenario: The live deployment has not drifted from the deployed commit (read-only)
    Given the live deployment of the dev environment
    Then the drift check is green
