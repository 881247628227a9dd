"""Steps of features/dns_tls.feature."""
from pytest_bdd import scenarios

scenarios("dns_tls.feature")
