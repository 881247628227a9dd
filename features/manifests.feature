Feature: Portable Kubernetes manifests: kustomize base plus dev and prod overlays
  @R6.1 @R4.1 @offline @live @static
  Scenario Outline: Each overlay renders to portable, schema-valid Kubernetes YAML
    Given the <env> overlay rendered with kustomize
    Then every object validates against the schema of the pinned Kubernetes version
    And the workloads web-app, api-backend and postgres are defined
    And no object uses an AWS-only kind where Kubernetes has a standard
    And the rendered manifests pass every static check

    Examples:
      | env  |
      | dev  |
      | prod |

  @R2.3 @offline @live @cost @static
  Scenario: Every container declares resource requests and limits
    Given the dev overlay rendered with kustomize
    Then every container declares cpu and memory requests and limits

  @R2.3 @R4.1 @offline @static
  Scenario Outline: A seeded manifest fault turns the static checks red
    Given the dev overlay with the seeded fault "<fault>"
    Then the manifest check fails naming "<evidence>"

    Examples:
      | fault                     | evidence                 |
      | container-without-limits  | limits                   |
      | latest-image-tag          | latest                   |
      | runs-as-root              | runAsNonRoot             |
      | serving-without-probe     | readinessProbe           |
      | invalid-schema            | schema                   |
      | aws-only-kind             | AWS-only                 |
      | foreign-image             | Docker Hub               |
      | multi-replica-without-pdb | PodDisruptionBudget      |
      | secret-value-inline       | AUTH0_CLIENT_SECRET      |

  @R4.2 @offline @live @static
  Scenario: The workloads use the same Docker Hub images as on Azure
    Given the dev overlay rendered with kustomize
    Then every app container image comes from the Docker Hub repositories of the settings

  @R9.1 @R9.2 @offline @static
  Scenario: Development is smaller than production, production is highly available
    Given the dev overlay rendered with kustomize
    And the prod overlay rendered with kustomize
    Then dev has fewer replicas and smaller resources than prod
    And prod has a PodDisruptionBudget and a HorizontalPodAutoscaler for every serving workload

  @R9.1 @R9.2 @offline @static
  Scenario: Swapped environments turn the size check red
    Given the prod overlay rendered with kustomize as if it were dev
    And the dev overlay rendered with kustomize as if it were prod
    Then the size check fails naming "replicas"

  @R9.4 @offline @live @security @static
  Scenario: Secret values are never in git and are injected at run time
    Given the repository's tracked files
    Then no tracked file holds a secret value for app-secrets
    And the workloads read app-secrets through secretKeyRef or envFrom

  @R9.4 @offline @security @static
  Scenario: A seeded secret value in a tracked file turns the secret scan red
    Given the repository's tracked files
    And a seeded tracked file holding a Secret "app-secrets" with stringData
    Then the secret scan fails naming "app-secrets"

  # Nothing on EKS installs an ingress controller: the cluster overlay must, pinned to settings' versions.
  @R6.1 @R4.5 @offline @live @static
  Scenario: The IngressClass that main-ingress names is installed with its controller by the cluster overlay
    Given the dev overlay rendered with kustomize
    Then the cluster overlay installs the controller of every Ingress's class, pinned to settings' versions
    And each cluster overlay installs the AWS Load Balancer Controller for its cluster, which handles its NLB Service

  @R6.1 @R4.5 @offline @static
  Scenario Outline: A cluster overlay without the ingress controller turns the ingress class check red
    Given the dev overlay rendered with kustomize
    And the dev cluster overlay with the seeded fault "<fault>"
    Then the ingress class check fails naming "<evidence>"

    Examples:
      | fault                 | evidence                     |
      | no-ingress-controller | has no controller Deployment |
      | no-ingress-class      | names IngressClass nginx     |

  # provision check (docs/check.md): the generic and this project's policy rules on the repository's own
  # manifests, workflows and templates; an exemption is printed as a note with its reason, never silent.
  @R2.3 @R3.2 @R4.1 @R9.4 @offline @static @security
  Scenario: provision check finds nothing on the repository itself
    Given the repository's manifests, workflows and templates
    Then provision check reports no finding on them
