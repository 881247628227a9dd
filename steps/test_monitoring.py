"""Steps of features/monitoring.feature."""
from pytest_bdd import scenarios

scenarios("monitoring.feature")
