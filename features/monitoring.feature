Feature: Monitoring: metrics, logs and alarms for the cluster and the app
  @R7.1 @R7.2 @offline @live
  Scenario: Container Insights collects CPU, memory, disk and network of pods and nodes
    Given the dev environment
    Then the Container Insights add-on is configured for the cluster
    And the dashboard tracks cpu, memory, disk and network

  @R7.3 @offline @live
  Scenario Outline: Critical alarms notify the team's topic
    Given the monitoring templates <variant>
    Then every critical alarm notifies the alert topic

    Examples:
      | variant                                   |
      | as committed                              |

  @R7.3 @offline
  Scenario: A seeded alarm without an action is caught
    Given the monitoring templates with the seeded fault "alarm-without-action"
    Then the monitoring check fails naming "AlarmActions"

  @R7.4 @offline @live
  Scenario: Logs are aggregated in log groups with retention
    Given the dev environment
    When the stacks are applied
    Then the application and control-plane log groups exist with a retention period

  @R7.5 @offline @live
  Scenario: A degradation can be traced from the dashboard to its logs
    Given the dev environment
    Then the dashboard links the alarms to the log groups of the workloads
