Feature: Isolation and secret protection inside the cluster
  @P7 @R8.2 @offline
  Scenario: NetworkPolicies allow exactly the intended pod-to-pod paths
    Given the dev overlay rendered with kustomize
    Then the computed reachability between workloads is exactly the allowed set
      | from        | to          | port |
      | ingress     | web-app     | 8080 |
      | ingress     | api-backend | 8080 |
      | web-app     | api-backend | 8080 |
      | api-backend | postgres    | 5432 |

  @P7 @R8.2 @offline
  Scenario: A seeded allow-all NetworkPolicy turns the reachability check red
    Given the dev overlay with the seeded fault "allow-all-ingress"
    Then the reachability check fails naming "postgres"

  @P7 @R8.4 @R8.5 @offline @live @security
  Scenario: Every ServiceAccount can do only what its Role allows
    Given the app is deployed to a fresh namespace
    Then the RBAC can-i matrix of every ServiceAccount matches the allowed matrix

  @P7 @R8.5 @offline @security
  Scenario: A seeded over-broad RoleBinding turns the RBAC check red
    Given the app is deployed to a fresh namespace
    And a seeded RoleBinding grants "web-app" the "admin" ClusterRole
    Then the RBAC check fails naming "web-app"

