"""Steps of features/infrastructure.feature."""
from pytest_bdd import scenarios

scenarios("infrastructure.feature")
