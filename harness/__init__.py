"""The test side of the harness: the pytest plugin and fixtures, seeded faults,
test-support helpers. `provision/` (the library and CLI a user installs)
imports nothing from here; the steps and tests import both."""
