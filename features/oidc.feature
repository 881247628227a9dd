Feature: CI authenticates to AWS through GitHub OIDC, never with stored keys
  The deploy role trusts only the GitHub OIDC provider, for the main branch of
  the repository and the sts.amazonaws.com audience. Every run gets its own
  short-lived STS credentials.

  # Each job's token carries the claims GitHub sends that job (the verification job runs in a GitHub
  # environment): it gets its own role and never the other. Live, only the running job's row can run.
  @R3.1 @R3.5 @R1.1 @P1 @offline @live @security
  Scenario Outline: A workflow job exchanges its OIDC token for temporary STS credentials of its own role only
    Given the OIDC issuer of the target
    And the <role> role of the dev environment
    When the job "<job>" of "<workflow>" asks for credentials
    Then STS returns temporary credentials
    And the credentials expire within 3600 seconds
    And the job's token is refused by the <other> role of the dev environment

    Examples:
      | role   | job    | workflow           | other  |
      | deploy | deploy | deploy-aws-eks.yml | verify |
      | verify | verify | verify-live.yml    | deploy |

  @R3.1 @P1 @offline @security
  Scenario Outline: A run the trust policy does not allow gets no credentials
    Given the OIDC issuer of the target
    And the deploy role of the dev environment
    When a workflow run with <claim> set to "<value>" asks for credentials
    Then the token exchange is refused

    Examples:
      | claim    | value                                                 |
      | sub      | repo:someone/fork:ref:refs/heads/main                 |
      | sub      | repo:cloudtolocalllm/cloudtolocalllm:pull_request     |
      | sub      | repo:cloudtolocalllm/cloudtolocalllm:ref:refs/heads/dev |
      | aud      | sts.example.com                                       |
      | iss      | https://evil.example.com                              |
      | exp      | expired                                               |
      | sig      | forged                                                |
      | nbf      | future                                                |
      | sub      | repo:cloudtolocalllm/cloudtolocalllm:ref:refs/tags/v1.0.0 |

  @P1 @R3.1 @R3.3 @offline @property @security
  Scenario: Only runs the trust policy allows ever obtain credentials (property)
    Given the OIDC issuer of the target
    And the deploy role of the dev environment
    Then for at least 100 generated workflow runs only the allowed ones obtain credentials lasting at most 3600 seconds

  @R3.4 @offline @live @security
  Scenario: Each run gets fresh credentials
    Given the OIDC issuer of the target
    And the verify role of the dev environment
    When two runs of the job "verify" of "verify-live.yml" ask for credentials
    Then the two runs hold different access key ids

  @R3.4 @offline @live @security
  Scenario Outline: The deploy role's policies are least privilege
    Given the IAM templates <variant>
    Then no policy grants a wildcard action on a wildcard resource
    And the deploy role's trust policy admits only the main branch subject

    Examples:
      | variant                                  |
      | as committed                             |

  @R3.4 @offline @security
  Scenario Outline: A seeded over-broad IAM template is caught
    Given the IAM templates with the seeded fault "<fault>"
    Then the IAM check fails naming "<evidence>"

    Examples:
      | fault                 | evidence          |
      | wildcard-admin-policy | Action * on *     |
      | open-trust-subject    | repo:*            |
      | missing-audience      | aud               |
      | roles-share-subject   | verify-live.yml/verify can assume DeployRole |

  # GitHub sends the repository's real owner/name case and IAM compares the sub case-sensitively; the
  # account may already have GitHub's OIDC provider (then the iam stack must not create another).
  @R3.1 @offline @live @static @security
  Scenario: The trust subjects and the OIDC provider follow settings.yaml exactly
    Then the trust subjects name the repository of settings in its exact case
    And the account's GitHub OIDC provider is created once or taken as it exists

  @R3.1 @offline @static @security
  Scenario Outline: A seeded GitHub setting that would break the first exchange is caught
    Given the github settings with the seeded fault "<fault>"
    Then the github settings check fails naming "<evidence>"

    Examples:
      | fault                  | evidence                    |
      | subject-case-differs   | case differs                |
      | verify-subject-is-main | environment:live-verify     |
      | provider-other-account | expected `create` or        |

  @R3.1 @live @security
  Scenario: The account's GitHub OIDC provider is as settings.yaml says
    Given the dev environment
    Then the account's GitHub OIDC provider is as github.oidc_provider says
