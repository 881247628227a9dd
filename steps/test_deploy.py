"""Steps of features/deploy.feature."""
from pytest_bdd import scenarios

scenarios("deploy.feature")
