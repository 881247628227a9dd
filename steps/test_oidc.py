"""Steps of features/oidc.feature."""
from pytest_bdd import scenarios

scenarios("oidc.feature")
