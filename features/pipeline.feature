Feature: GitHub Actions workflows are thin, pinned callers of the CLI
  The deploy, live-verification and pull-request workflows are checked
  statically: actionlint, zizmor --offline and the harness's own rules on the
  parsed YAML (provision/ci). Seeded faults are applied to copies of the
  deploy workflow in a temporary directory, never to .github/workflows.

  @R1.1 @R3.2 @P1 @offline @live @security @static
  Scenario: The deploy workflow uses OIDC and no static AWS keys
    Given the workflow "deploy-aws-eks.yml"
    Then it requests id-token write and contents read only
    And it configures AWS credentials from the deploy role through OIDC
    And no workflow holds or prints an AWS access key

  @R5.1 @R5.2 @P3 @offline @live @static
  Scenario: A push builds both images tagged with the commit SHA and deploys that tag
    Given the workflow "deploy-aws-eks.yml"
    Then it runs on pushes to main and on dispatch with an environment of settings.yaml
    And it builds and pushes the web and api images tagged with github.sha
    And it deploys with the same CLI command the suite tests, with github.sha as the image tag

  @R5.3 @R10.5 @P3 @offline
  Scenario: The deploy job's CLI steps run end to end against the offline target
    Given the workflow "deploy-aws-eks.yml"
    When its deploy job's provision steps run as written for a push of a new commit
    Then every step exits 0
    And the cluster runs that commit's images

  @R5.3 @offline
  Scenario: A deploy job step that fails turns the run red
    Given the workflow "deploy-aws-eks.yml" with its image tag replaced by "latest"
    When its deploy job's provision steps run as written for a push of a new commit
    Then the run fails at the step "Deploy (health gate and automatic rollback are the CLI's)"

  @R5.1 @offline @static
  Scenario Outline: A seeded deploy trigger fault turns the trigger check red
    Given the workflow "deploy-aws-eks.yml" with the seeded fault "<fault>"
    Then the deploy trigger check fails naming "<evidence>"

    Examples:
      | fault                  | evidence                 |
      | deploy-on-pull-request | runs on pull_request     |
      | push-not-main          | expected branches [main] |

  @R5.5 @R10.4 @P10 @offline @live @static
  Scenario: Pushes to the same cluster queue instead of cancelling each other
    Given the workflow "deploy-aws-eks.yml"
    Then its deploy job has a concurrency group per cluster with cancel-in-progress false

  @R5.4 @R10.5 @offline @live @static
  Scenario: Every deploy run reports success or failure and alerts on failure
    Given the workflow "deploy-aws-eks.yml"
    Then it writes the outcome to the job summary and alerts the developer on failure

  @R3.2 @offline @security @static
  Scenario Outline: A seeded stored AWS key in a workflow is caught by the workflow check
    Given the workflow "deploy-aws-eks.yml" with the seeded fault "<fault>"
    Then the workflow check fails naming "<evidence>"

    Examples:
      | fault               | evidence                                          |
      | static-aws-key      | static credential input aws-access-key-id         |
      | static-aws-key      | AWS_ACCESS_KEY_ID                                 |

  # Least privilege (R3.4): no broader token, and no untrusted input or code running with the run's rights.
  @R3.4 @offline @security @static
  Scenario Outline: A seeded over-privileged workflow is caught by the workflow check
    Given the workflow "deploy-aws-eks.yml" with the seeded fault "<fault>"
    Then the workflow check fails naming "<evidence>"

    Examples:
      | fault               | evidence                                          |
      | write-all           | workflow permissions: write-all                   |
      | template-injection  | template-injection (High)                         |
      | pull-request-target | dangerous-triggers (High)                         |
      | pull-request-target | checks out the pull request head                  |

  # Only version-controlled code runs (R6.3): every action pinned to a commit.
  @R6.3 @offline @security @static
  Scenario Outline: A seeded unpinned action is caught by the workflow check
    Given the workflow "deploy-aws-eks.yml" with the seeded fault "<fault>"
    Then the workflow check fails naming "<evidence>"

    Examples:
      | fault               | evidence                                          |
      | unpinned-action     | unpinned-uses (High)                              |

  # Deploys queue, never cancel each other (R5.5).
  @R5.5 @offline @static
  Scenario Outline: A seeded cancelling concurrency group is caught by the workflow check
    Given the workflow "deploy-aws-eks.yml" with the seeded fault "<fault>"
    Then the workflow check fails naming "<evidence>"

    Examples:
      | fault               | evidence                                          |
      | cancel-in-progress  | cancel-in-progress: true                          |

  @R3.2 @offline @live @security @static
  Scenario: actionlint and zizmor are clean on the committed workflows
    Given the committed workflows
    Then actionlint reports no problem
    And zizmor --offline reports no finding
    And every workflow follows the repository's own rules

  @R10.5 @offline @live @static
  Scenario: The nightly live verification runs the live markers and publishes the report
    Given the workflow "verify-live.yml"
    Then it runs pytest on the live target with the live marker
    And it uploads the reports directory and writes the sign-off summary
