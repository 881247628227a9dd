"""Steps of features/locking.feature."""
from pytest_bdd import scenarios

scenarios("locking.feature")
