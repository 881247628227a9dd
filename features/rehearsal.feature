Feature: The rehearsal proves what only its logs can show

  # The nightly run is read-only (docs/rehearsal.md): its verify role, its access entry and its Cloudflare
  # token wrote nothing, as the enforcement point's, kube-apiserver's audit and the Cloudflare stand-in's
  # request logs show. Runs last in the rehearsal, after every nightly scenario.
  # Each strict part of the rehearsal can turn it red (docs/rehearsal.md "Fidelity faults"). The operator
  # seeds the fault into a copy of the nightly job's rights (never the verify role, its access entry or
  # the verify token the run judges), the check that depends on the part runs with the copy, then the
  # operator removes the copy and the process acts as the nightly job again. Before the read-only proof.
  @R3.4 @rehearsal @security
  Scenario Outline: A job's rights one short turn the check that needs them red: <fault>
    Given the rehearsal's operator
    When the operator seeds "<fault>" into a copy of the nightly job's rights and the check runs with it
    Then that check fails naming "<naming>"
    And the copy is gone and the process acts as the nightly job again

    Examples:
      | fault            | naming               |
      | aws-permission   | AccessDenied         |
      | access-entry     | forbidden            |
      | cloudflare-scope | Authentication error |

  @R3.4 @rehearsal @security
  Scenario: A verification step that writes turns the read-only rule red
    Given the rehearsal's operator
    When the operator seeds "verification-write" into a copy of the nightly job's rights and the check runs with it
    Then that check fails naming "cluster: create"
    And the copy is gone and the process acts as the nightly job again

  @R4.3 @rehearsal
  Scenario: A Service and an Ingress the load balancer controller would ignore get no load balancer name
    Given the rehearsal's operator
    When the operator seeds "lb-controller" into a copy of the nightly job's rights and the check runs with it
    Then that check fails naming "no load balancer hostname"
    And the copy is gone and the process acts as the nightly job again

  @R3.4 @rehearsal @security @last
  Scenario: The nightly run writes nothing to AWS, the cluster or Cloudflare
    Given the rehearsal's request logs
    Then they show no write by the nightly job's identities
