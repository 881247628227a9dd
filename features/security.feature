Feature: Isolation and secret protection inside the cluster
  @P7 @R8.2 @offline @static
  Scenario: NetworkPolicies allow exactly the intended pod-to-pod paths
    Given the dev overlay rendered with kustomize
    Then the computed reachability between workloads is exactly the allowed set
      | from        | to          | port |
      | ingress     | web-app     | 8080 |
      | ingress     | api-backend | 8080 |
      | web-app     | api-backend | 8080 |
      | api-backend | postgres    | 5432 |
      | postgres-backup | postgres | 5432 |
    And the computed egress beyond the workloads is exactly the allowed set
      | from        | to       | port | protocol |
      | web-app     | dns      | 53   | UDP      |
      | web-app     | dns      | 53   | TCP      |
      | api-backend | dns      | 53   | UDP      |
      | api-backend | dns      | 53   | TCP      |
      | postgres    | dns      | 53   | UDP      |
      | postgres    | dns      | 53   | TCP      |
      | postgres-backup | dns  | 53   | UDP      |
      | postgres-backup | dns  | 53   | TCP      |
      | api-backend | internet | 443  | TCP      |

  @P7 @R8.2 @offline @static
  Scenario: A seeded allow-all NetworkPolicy turns the reachability check red
    Given the dev overlay with the seeded fault "allow-all-ingress"
    Then the reachability check fails naming "postgres"

  @P7 @R8.5 @offline @live @security
  Scenario: Every ServiceAccount can do only what its Role allows
    Given the app is deployed to a fresh namespace
    Then the RBAC can-i matrix of every ServiceAccount matches the allowed matrix
      | serviceaccount | verbs     | resource   | name       |
      | web-app        |           |            |            |
      | api-backend    | get,watch | configmaps | app-config |
      | postgres       |           |            |            |
      | postgres-backup |          |            |            |
      | default        |           |            |            |

  @P7 @R8.5 @offline @security
  Scenario: A seeded over-broad RoleBinding turns the RBAC check red
    Given the app is deployed to a fresh namespace
    And a seeded RoleBinding grants "web-app" the "admin" ClusterRole
    Then the RBAC check fails naming "web-app"

  @P7 @offline @security
  Scenario: Pod Security restricted in a fresh namespace flags a seeded root container
    Given the dev overlay with the seeded fault "runs-as-root"
    When it is applied to a fresh namespace
    Then the apply check fails naming "runAsNonRoot"
