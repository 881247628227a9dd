Feature: Secrets are encrypted at rest in etcd and readable only by authorised identities
  @P8 @R8.3 @offline @security
  Scenario: Secrets are ciphertext in etcd
    Given a secret written through the API server
    Then its raw value in etcd starts with "k8s:enc:"

  @P8 @R8.3 @offline @security @property
  Scenario: Any secret is stored encrypted and readable only by authorised identities (property)
    Then for at least 100 generated secrets the raw etcd value is ciphertext and only authorised service accounts can read it

  @P8 @R8.3 @offline @security
  Scenario: A control plane without the encryption config turns the etcd check red
    Given a raw etcd value written without encryption
    Then the encryption check fails naming "plaintext"
