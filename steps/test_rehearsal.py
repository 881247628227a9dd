"""Steps of rehearsal.feature: proofs read from the rehearsal's own request logs, and the fidelity faults
(harness/rehearsal_faults.py) that show each strict part able to turn the rehearsal red."""
from pytest_bdd import given, parsers, scenarios, then, when

from harness import rehearsal, rehearsal_faults
from provision.findings import caught, combine, unverifiable

scenarios("rehearsal.feature")


@given("the rehearsal's request logs", target_fixture="logs_of")
def logs_of(target):
    return target


@then("they show no write by the nightly job's identities")
def no_writes(logs_of, check):
    check(rehearsal.nightly_writes(logs_of))


@given("the rehearsal's operator")
def the_operator(target, check):
    why = rehearsal_faults.unavailable(target)
    if why:
        check(unverifiable("the rehearsal's operator", "the strict parts and the operator's credentials", why))


@when(parsers.parse('the operator seeds "{fault}" into a copy of the nightly job\'s rights and the check runs with it'),
      target_fixture="seeded")
def seeded(target, fault, tmp_path):
    return rehearsal_faults.run(target, fault, tmp_path)


@then(parsers.parse('that check fails naming "{naming}"'))
def fails_naming(seeded, naming, check):
    if seeded.finding.unverifiable:   # the check could not run: not verifiable, with its reason
        check(seeded.finding)
    names = dict.fromkeys((naming, *seeded.naming))
    check(combine(f"seeded fault turns '{seeded.finding.subject}' red", [caught(seeded.finding, n) for n in names]))


@then("the copy is gone and the process acts as the nightly job again")
def cleaned_up(target, seeded, check):
    check(combine("the operator's clean-up", [seeded.cleanup, rehearsal_faults.nightly_again(target)]))
