"""The outcomes a scenario (and a catalog ID) can have on a target, and the strict ID rule."""
PASSED = "passed"
FAILED = "failed"
NOT_VERIFIABLE = "not verifiable on this target"
NOT_IMPLEMENTED = "not implemented"
NOT_RUN = "not run"
SKIPPED = "skipped"  # any other skip: a defect, shown as such

# Prefixes of pytest skip/xfail reasons that map to an outcome of their own.
NOT_VERIFIABLE_PREFIX = "not verifiable on"
NOT_IMPLEMENTED_PREFIX = "not implemented"

# Worst first: the outcome of an outline is the worst of its examples.
ORDER = [FAILED, SKIPPED, NOT_IMPLEMENTED, NOT_VERIFIABLE, NOT_RUN, PASSED]
# A scenario tagged for the run's target with one of these outcomes refuses its IDs.
REFUSING = (FAILED, SKIPPED, NOT_IMPLEMENTED, NOT_RUN)

# The targets a release is judged on, and the scenario tags that count on each:
# the rehearsal runs the live scenarios against the offline stack.
TARGETS = ("offline", "rehearsal", "live")
# The scenario tags that name a target.
TARGET_TAGS = ("offline", "rehearsal", "live")
TAGS_OF_TARGET = {"offline": ("offline",), "rehearsal": ("live", "rehearsal"), "live": ("live",)}


def worst(outcomes) -> str:
    outcomes = list(outcomes)
    if not outcomes:
        return NOT_RUN
    return min(outcomes, key=ORDER.index)


def tagged_for(target: str, tags) -> bool:
    """Whether a scenario with these tags counts on `target` (is tagged for it)."""
    return any(t in tags for t in TAGS_OF_TARGET.get(target, (target,)))


def for_id(outcomes) -> str:
    """The strict rule, on the outcomes of the scenarios tagged for the target.

    An ID passes only when none of them failed, was skipped, not implemented or
    not run, and at least one passed; "not verifiable" ones are weaker links and
    refuse nothing. Otherwise the ID takes the worst refusing outcome, or "not
    verifiable" when nothing passed and nothing refused.
    """
    outcomes = list(outcomes)
    refusing = [o for o in outcomes if o in REFUSING]
    if refusing:
        return worst(refusing)
    if PASSED in outcomes:
        return PASSED
    return worst(outcomes)
