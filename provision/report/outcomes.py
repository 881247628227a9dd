"""The outcomes a scenario (and a catalog ID) can have on a target."""
PASSED = "passed"
FAILED = "failed"
NOT_VERIFIABLE = "not verifiable on this target"
NOT_IMPLEMENTED = "not implemented"
NOT_RUN = "not run"
SKIPPED = "skipped"  # any other skip: a defect, shown as such

# Prefixes of pytest skip/xfail reasons that map to an outcome of their own.
NOT_VERIFIABLE_PREFIX = "not verifiable on"
NOT_IMPLEMENTED_PREFIX = "not implemented"

# Worst first: the outcome of an ID (or an outline) is the worst of its parts,
# except that one pass with no failure makes an ID pass.
ORDER = [FAILED, SKIPPED, NOT_IMPLEMENTED, NOT_VERIFIABLE, NOT_RUN, PASSED]


def worst(outcomes) -> str:
    outcomes = list(outcomes)
    if not outcomes:
        return NOT_RUN
    return min(outcomes, key=ORDER.index)


def for_id(outcomes) -> str:
    """An ID passes when at least one scenario passed and none failed."""
    outcomes = list(outcomes)
    if FAILED in outcomes:
        return FAILED
    if PASSED in outcomes:
        return PASSED
    return worst(outcomes)
