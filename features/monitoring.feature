Feature: Monitoring: metrics, logs and alarms for the cluster and the app
  Offline, moto's CloudFormation creates neither EKS add-ons nor CloudWatch
  alarms: what the AWS APIs would show of them is checked live, and offline
  scenarios say that they read the templates.

  @R7.1 @R7.2 @live
  Scenario: Container Insights collects CPU, memory, disk and network of pods and nodes
    Given the dev environment
    Then the Container Insights add-on is configured for the cluster
    And the dashboard template tracks cpu, memory, disk and network

  @R7.1 @R7.2 @offline @static
  Scenario: The templates configure Container Insights and a dashboard of CPU, memory, disk and network
    Given the dev environment
    Then the Container Insights add-on is in the eks template
    And the dashboard template tracks cpu, memory, disk and network

  @R7.1 @offline @static
  Scenario: A seeded template without the Container Insights add-on is caught
    Given the monitoring templates with the seeded fault "no-container-insights"
    Then the static check "Container Insights add-on" fails naming "no amazon-cloudwatch-observability add-on"

  @R7.2 @offline @static
  Scenario: A seeded dashboard without its network widget is caught
    Given the monitoring templates with the seeded fault "dashboard-no-network"
    Then the static check "dashboard metrics" fails naming "no network widget"

  @R7.3 @live
  Scenario Outline: Critical alarms notify the team's topic
    Given the monitoring templates <variant>
    Then every critical alarm notifies the alert topic

    Examples:
      | variant                                   |
      | as committed                              |

  @R7.3 @offline @static
  Scenario: Every critical alarm of the monitoring template notifies the alert topic
    Given the monitoring templates as committed
    Then every critical alarm of the template notifies the alert topic

  @R7.3 @offline
  Scenario: A seeded alarm without an action is caught
    Given the monitoring templates with the seeded fault "alarm-without-action"
    Then the monitoring check fails naming "AlarmActions"

  @R7.4 @offline @live
  Scenario: Logs are aggregated in log groups with retention
    Given the dev environment
    When the stacks are applied
    Then the application and control-plane log groups exist with a retention period

  @R7.4 @offline @static
  Scenario: A seeded log group without retention is caught
    Given the monitoring templates with the seeded fault "no-log-retention"
    Then the static check "log-group retention" fails naming "no RetentionInDays"

  @R7.5 @offline @live @static
  Scenario: The dashboard template leads from the alarms to the workloads' logs
    Given the dev environment
    Then the dashboard template links the alarms to the log groups of the workloads

  @R7.5 @offline @static
  Scenario: A seeded dashboard without the app's log widget is caught
    Given the monitoring templates with the seeded fault "dashboard-no-app-logs"
    Then the static check "dashboard links" fails naming "no log widget"

  # EKS and the Container Insights add-on create their log groups themselves when they are absent: a
  # stack creating the same group after them fails with "already exists". The monitoring stack is
  # applied before eks (provision/aws/cfn/load.py STACKS), so the services reuse its groups.
  @R7.4 @offline @live @static
  Scenario: Log groups that EKS and Container Insights would create are created before them
    Given the dev environment
    Then every log group a service creates itself is created by a stack applied before that service

  @R7.4 @offline @static
  Scenario: A seeded stack that creates a service's log group after the service is caught
    Given the monitoring templates with the seeded fault "service-log-group-after-cluster"
    Then the static check "service log groups first" fails naming "stack budget (LateApplicationLogGroup)"

  # Source of what Container Insights publishes: provision/aws/container-insights-metrics.yaml.
  @R7.1 @R7.3 @offline @live @static
  Scenario: Every alarm watches a metric Container Insights publishes, with dimensions it publishes
    Given the dev environment
    Then every alarm of the monitoring template reads a metric and dimension set Container Insights publishes

  @R7.3 @offline @static
  Scenario Outline: A seeded alarm on a series Container Insights never publishes is caught
    Given the monitoring templates with the seeded fault "<fault>"
    Then the static check "alarm metrics" fails naming "<evidence>"

    Examples:
      | fault                                 | evidence                                    |
      | restarts-alarm-unpublished-dimensions | not published with {ClusterName, Namespace} |
      | cpu-alarm-unpublished-dimensions      | node_cpu_utilization is not published with  |

  @R7.3 @offline @static
  Scenario: The alert topic notifies the team's address of settings.yaml
    Given the dev environment
    Then the alert topic of the monitoring template has an e-mail subscription to the team's address

  @R7.3 @offline @static
  Scenario: A seeded alert topic without a subscriber is caught
    Given the monitoring templates with the seeded fault "no-alert-subscriber"
    Then the static check "alert subscription" fails naming "no subscriber"

  # PendingConfirmation is not confirmed: SNS delivers nothing until the recipient confirms.
  @R7.3 @live
  Scenario: The alert topic has a confirmed subscriber
    Given the dev environment
    Then the alert topic has a confirmed subscription of the team's address
