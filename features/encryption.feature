Feature: Secrets are encrypted at rest in etcd and readable only by authorised identities
  @P8 @R8.3 @offline @security
  Scenario: Secrets are ciphertext in etcd
    Given a secret written through the API server
    Then its raw value in etcd starts with "k8s:enc:"

  @P8 @R8.3 @offline @security @property
  Scenario: Any secret is stored encrypted and readable only by authorised identities (property)
    Then for at least 100 generated secrets the raw etcd value is ciphertext and only authorised service accounts can read it

  @P8 @R8.3 @offline @security @property
  Scenario: Under any provider and key, any secret is stored as that provider's ciphertext (property)
    Then for control planes encrypting with secretbox, aescbc and aesgcm under generated keys, at least 100 generated secrets in all are ciphertext of that provider and key in etcd

  @P8 @R8.3 @offline @security
  Scenario Outline: A control plane that does not encrypt turns the etcd check red
    Given a raw etcd value written by a control plane with <config>
    Then the encryption check fails naming "<evidence>"

    Examples:
      | config                             | evidence  |
      | no encryption config               | plaintext |
      | the identity provider alone        | plaintext |
