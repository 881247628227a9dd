Feature: The AWS infrastructure is CloudFormation, applied idempotently from the repo
  Network, IAM/OIDC, EKS, monitoring and budget stacks come from templates in
  the repository, with parameters from settings.yaml.

  @R6.2 @offline @live
  Scenario: Every stack of the environment is CloudFormation from the repository
    Given the dev environment
    When the stacks are applied
    Then every stack is in a COMPLETE state
    And every template passes cfn-lint

  @R6.2 @offline
  Scenario Outline: A seeded template fault fails the static checks
    Given the CloudFormation templates with the seeded fault "<fault>"
    Then the template check fails naming "<evidence>"

    Examples:
      | fault                  | evidence             |
      | malformed-template     | template             |
      | public-node-subnet     | private subnets      |
      | no-secret-encryption   | EncryptionConfig     |
      | wrong-instance-type    | t3.medium            |

  @R6.2 @offline @static
  Scenario: A seeded lint error turns cfn-lint red
    Given the CloudFormation templates with the seeded fault "lint-error"
    Then the static check "cfn-lint" fails naming "E3002"

  @R6.2 @P2 @offline
  Scenario: Applying unchanged stacks a second time changes nothing
    Given the dev environment
    When the stacks are applied
    And the stacks are applied again
    Then the second apply reports no changes and makes no write

  @R6.4 @offline @live
  Scenario: Every plan and apply leaves an audit record and stack tags
    Given the dev environment
    When the stacks are applied
    Then an audit record names who applied which change set with what result
    And every stack carries the commit SHA tag

  @R6.5 @offline
  Scenario: The infrastructure can be torn down and recreated from code
    Given the dev environment
    When the stacks are applied
    And the stacks are torn down and applied again
    Then the inventory is equivalent to the first one

  @R8.1 @offline @live @security
  Scenario: Worker nodes sit only in private subnets
    Given the dev environment
    When the stacks are applied
    Then the node group uses only subnets without a route to an internet gateway

  # Live only: offline, moto's CloudFormation creates no node group, so the EKS API cannot show it.
  @R2.1 @R2.2 @P9 @live @cost
  Scenario Outline: The node group as the EKS API shows it matches the environment's settings
    Given the <env> environment
    Then the node group is of type "t3.medium" with <nodes> nodes

    Examples:
      | env  | nodes |
      | dev  | 2     |
      | prod | 3     |

  @R2.1 @R2.2 @P9 @offline @cost @static
  Scenario Outline: The node group of the template matches the environment's settings
    Given the <env> environment
    Then the node group of the template is of type "t3.medium" with <nodes> nodes

    Examples:
      | env  | nodes |
      | dev  | 2     |
      | prod | 3     |

  # Static: the template and the manifest allow scaling down; that an idle cluster does scale down is not shown.
  @R2.4 @P9 @offline @live @cost @static
  Scenario: The node group template and the autoscaler manifest allow scaling down when idle
    Given the dev environment
    Then the node group of the template can scale between its minimum and maximum
    And the autoscaler manifest enables scale-down

  @R2.4 @P9 @live @cost
  Scenario: The cluster autoscaler runs with scale-down enabled on a node group that can scale down
    Given the dev environment
    Then the node group as the EKS API shows it can scale between its minimum and maximum
    And the cluster autoscaler is available in the cluster with scale-down enabled

  @R2.4 @P9 @offline @cost @static
  Scenario Outline: A seeded node group scaling fault turns the scaling check red
    Given the CloudFormation templates with the seeded fault "<fault>"
    Then the static check "node group scaling" fails naming "<evidence>"

    Examples:
      | fault                     | evidence        |
      | scaling-min-above-desired | min 9 desired 2 |
      | scaling-max-at-min        | max 2           |

  @R8.3 @live @security
  Scenario: Kubernetes secrets are envelope-encrypted with a rotating KMS key
    Given the dev environment
    Then the EKS cluster encrypts secrets with a KMS key that has rotation on

  # Offline twin: moto's CloudFormation creates no EKS cluster, so its encryptionConfig is read from the template.
  @R8.3 @offline @security
  Scenario: The template envelope-encrypts secrets with the stack's KMS key, which rotates
    Given the dev environment
    Then the eks template encrypts secrets with a KMS key that the KMS API shows rotating

  @R8.4 @offline @live @security
  Scenario: Workloads reach AWS through IRSA roles
    Given the dev environment
    Then each IRSA role trusts only its own service account through the cluster's OIDC provider
    And the ServiceAccounts of the manifests name their own IRSA roles

  @R8.5 @live @security
  Scenario: Cluster access goes through IAM access entries
    Given the dev environment
    Then the cluster authenticates with IAM access entries and has no open public endpoint

  # Offline twin: moto's CloudFormation creates no EKS cluster, so the access configuration is read from the template.
  @R8.5 @offline @security @static
  Scenario: The eks template grants cluster access through IAM access entries only
    Given the dev environment
    Then the eks template authenticates with IAM access entries and has no open public endpoint

  # Static: settings api_access, the eks template and the workflows' runs-on agree (docs/infrastructure.md).
  @R8.5 @offline @live @static
  Scenario: The jobs that call the cluster run where its API endpoint answers them
    Given the dev environment
    Then the static check "API endpoint reachable" passes

  @R8.5 @offline @static
  Scenario Outline: A documentation range or a GitHub-hosted runner turns the endpoint check red
    Given the CloudFormation templates with the seeded fault "<fault>"
    Then the static check "API endpoint reachable" fails naming "<evidence>"

    Examples:
      | fault                          | evidence                                    |
      | documentation-cidr             | 203.0.113.0/24 is the documentation range   |
      | hosted-runner-private-endpoint | GitHub-hosted runner ubuntu-24.04           |

  @R6.2 @R8.4 @offline @live @static
  Scenario: Every role an EKS add-on names exists before the add-on
    Given the dev environment
    Then the static check "add-on roles ordered" passes

  @R6.2 @R8.4 @offline @static
  Scenario: An add-on naming a role of a later stack turns the order check red
    Given the CloudFormation templates with the seeded fault "addon-role-from-later-stack"
    Then the static check "add-on roles ordered" fails naming "created only by the later stack irsa"
