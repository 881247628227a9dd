Feature: The final verification (seed task 20): `provision verify` on a deployed app
  `provision verify --env E` runs the probes the live scenarios use, each a graded Finding (docs/verify.md):
  workloads Running and Ready and Services with ready endpoints, the smoke request on every domain, DNS of every
  domain, TLS validity, the end-to-end request path, the checks inside the pods and the control plane's flags.
  What a target cannot show is not verifiable there, with the reason; it is never passed.

  @R1.3 @R1.4 @R4.3 @R4.5 @offline
  Scenario: provision verify on a freshly deployed app has nothing red and names what it cannot show
    Given the app deployed by the deploy engine to a fresh namespace
    When provision verify runs on it with the in-pod checks
    Then no check is red and at least one passed
    And every check not verifiable on this target names its reason

  @R1.3 @R1.4 @R4.3 @R4.5 @live
  Scenario: provision verify on the live deployment is green and writes nothing
    Given the deployment of the nightly environment
    When provision verify runs on it
    Then no check is red and at least one passed
    And every check not verifiable on this target names its reason
    And the nightly identity wrote nothing while it ran
