"""Steps of features/pipeline.feature."""
from pytest_bdd import scenarios

scenarios("pipeline.feature")
