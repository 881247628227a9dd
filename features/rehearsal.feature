Feature: The rehearsal proves what only its logs can show

  # The nightly run is read-only (docs/rehearsal.md): its verify role, its access entry and its Cloudflare
  # token wrote nothing, as the enforcement point's, kube-apiserver's audit and the Cloudflare stand-in's
  # request logs show. Runs last in the rehearsal, after every nightly scenario.
  @R3.4 @rehearsal @security @last
  Scenario: The nightly run writes nothing to AWS, the cluster or Cloudflare
    Given the rehearsal's request logs
    Then they show no write by the nightly job's identities
