Feature: The development cluster costs at most $300 a month, and cost is tracked
  @P9 @R2.1 @R2.2 @offline @live @cost
  Scenario: The monthly estimate of dev from the templates is within budget
    Given the dev environment
    When the monthly cost is estimated from the templates and the pinned price table
    Then the estimate is at most the budget of the environment
    And every line of the estimate names its price and the price table's date

  @P9 @offline @cost
  Scenario Outline: A seeded over-budget configuration turns the cost check red
    Given the dev environment with the seeded cost fault "<fault>"
    When the monthly cost is estimated from the templates and the pinned price table
    Then the estimate exceeds the budget

    Examples:
      | fault              |
      | ten-m5-xlarge-nodes |
      | nat-per-az-times-5 |

  @P9 @offline @property @cost
  Scenario: Any dev configuration within the settings' bounds stays under budget (property)
    Then for at least 100 generated node counts within the dev bounds the estimate stays at most the budget

  @R2.5 @live @cost
  Scenario: A monthly budget with alert thresholds notifies the team
    Given the dev environment
    Then a monthly AWS budget of the environment's amount exists with alert thresholds to the alert topic

  # Offline twin: moto's CloudFormation creates no budget, so the budget is read from its template.
  @R2.5 @offline @cost @static
  Scenario: The budget template sets the environment's amount with alert thresholds to the alert topic
    Given the dev environment
    Then the budget template sets a monthly budget of the environment's amount with thresholds to the alert topic

  @R2.5 @live @cost
  Scenario: Actual month-to-date cost is read from Cost Explorer and reported
    Given the dev environment
    When the month-to-date cost is read from Cost Explorer
    Then the cost report shows actual and forecast spend against the budget

  # The budget counts only the environment's cost allocation tag (<project>:environment), the tag every
  # stack carries; without the filter it compares the whole account with one environment's amount.
  @R2.5 @offline @cost @static
  Scenario: A seeded budget without the environment's tag filter is caught
    Given the budget template with the seeded fault "budget-whole-account"
    Then the static check "budget" fails naming "the whole account"
