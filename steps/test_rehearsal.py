"""Steps of rehearsal.feature: proofs read from the rehearsal's own request logs."""
from pytest_bdd import given, scenarios, then

from harness import rehearsal

scenarios("rehearsal.feature")


@given("the rehearsal's request logs", target_fixture="logs_of")
def logs_of(target):
    return target


@then("they show no write by the nightly job's identities")
def no_writes(logs_of, check):
    check(rehearsal.nightly_writes(logs_of))
