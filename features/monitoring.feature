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
