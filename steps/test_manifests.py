"""Steps of features/manifests.feature."""
from pytest_bdd import scenarios

scenarios("manifests.feature")
