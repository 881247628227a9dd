"""Steps of features/encryption.feature."""
from pytest_bdd import scenarios

scenarios("encryption.feature")
