"""Steps of features/disaster_recovery.feature."""
from pytest_bdd import scenarios

scenarios("disaster_recovery.feature")
