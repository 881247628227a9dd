"""Steps of features/cost.feature."""
from pytest_bdd import scenarios

scenarios("cost.feature")
