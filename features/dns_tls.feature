Feature: Cloudflare DNS points every domain at the AWS load balancer, served over valid TLS
  @P6 @R1.4 @R4.3 @offline @live @smoke
  Scenario: Every managed domain resolves to the AWS load balancer
    Given the Cloudflare zone of the target
    Then every managed domain resolves, consistently, to the load balancer of the cluster

  @P6 @R4.3 @offline @property
  Scenario: Any zone written through the Cloudflare API answers as its records say, on every resolution path (property)
    Given the Cloudflare zone of the target
    Then for at least 100 generated zones every answer on every resolution path agrees with the oracle, and after dns sync every managed domain leads to the load balancer

  @P6 @R4.3 @offline
  Scenario Outline: A seeded DNS fault turns the resolution check red
    Given the Cloudflare zone of the target with the seeded fault "<fault>"
    Then the resolution check fails naming "<evidence>"

    Examples:
      | fault                  | evidence        |
      | record-to-old-ip       | load balancer   |
      | missing-api-record     | api.            |

  @R4.4 @offline @live @smoke
  Scenario: No record or route leads to Azure any more
    Given the Cloudflare zone of the target
    Then no DNS record points at an Azure address or hostname

  @R4.4 @offline
  Scenario: A seeded leftover Azure record is caught
    Given the Cloudflare zone of the target with the seeded fault "leftover-azure-record"
    Then the decommission check fails naming "cloudapp.azure.com"

  @R1.4 @R4.5 @offline @live @smoke
  Scenario: The app answers over HTTPS with a valid certificate on each domain
    Given the Cloudflare zone of the target
    Then each domain answers HTTPS with a certificate valid for at least 14 days
    And Cloudflare has SSL mode "strict" and Always Use HTTPS on

  @R1.4 @R4.5 @offline
  Scenario Outline: A seeded Cloudflare settings fault turns the settings check red
    Given the Cloudflare zone of the target with the seeded fault "<fault>"
    Then the Cloudflare settings check fails naming "<evidence>"

    Examples:
      | fault            | evidence         |
      | ssl-flexible     | ssl              |
      | always-https-off | always_use_https |

  @R1.4 @offline
  Scenario Outline: A seeded TLS fault turns the certificate check red
    Given the TLS endpoint of "app.cloudtolocalllm.online" with the seeded fault "<fault>"
    Then the certificate check fails naming "<evidence>"

    Examples:
      | fault          | evidence   |
      | expired        | expired    |
      | wrong-hostname | hostname   |
      | untrusted-ca   | verify     |

  @R4.3 @R4.4 @offline
  Scenario: The rehearsal's zone starts as the Azure era left it; dns sync with the deploy token migrates it
    Given the Cloudflare edge as strict as Cloudflare, its zone as the Azure era left it
    Then the resolution, decommission and settings checks are red before dns sync
    And dns sync with the deploy token migrates the zone, and every check passes with the read-only verify token
    And the verify token cannot write to the zone, and the request log shows no write of it
