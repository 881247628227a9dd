"""Steps of features/locking.feature."""
import threading
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_bdd import given as bdd_given
from pytest_bdd import parsers, scenarios, then, when

from harness import kube as testing
from harness.plugin import collectors_key
from provision import errors
from provision.findings import Finding
from provision.kube import lock

scenarios("locking.feature")


@bdd_given("a fresh namespace on the cluster", target_fixture="namespace")
def fresh_namespace(target, request):
    ns = testing.fresh_namespace(target, prefix="lock")
    request.node.stash.setdefault(collectors_key, []).extend(testing.collectors(target, ns))
    request.addfinalizer(lambda: testing.drop_namespace(target, ns))
    return ns


@when("two deploys start at the same time", target_fixture="pair")
def two_deploys(target, namespace):
    shas = [testing.sha_for("good"), testing.sha_for("good")]
    runs = [None, None]
    go = threading.Barrier(2)

    def one(i):
        go.wait()
        runs[i] = testing.run_deploy(target, testing.options("dev", shas[i], namespace, holder=f"deployer-{i}"))
    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    return runs


@then("they run one after the other")
def one_after_other(target, pair, check):
    for r in pair:
        check(testing.succeeded(target, r))
    (a0, a1), (b0, b1) = sorted(r.outcome.locked for r in pair)
    check(Finding(a1 <= b0, "two concurrent deploys", "lock intervals do not overlap",
                  f"first held {a0:.2f}-{a1:.2f}, second {b0:.2f}-{b1:.2f}"))


@then("the final state is the last one accepted")
def last_accepted(target, namespace, pair, check):
    last = max(pair, key=lambda r: r.outcome.locked[0])
    check(testing.runs_images(target, namespace, last.sha))
    check(testing.health(target, namespace))


@bdd_given(parsers.parse('the deployment lock is held by "{holder}"'))
def lock_held(target, namespace, holder):
    lock.seed(target, namespace, holder, lease_seconds=300)


@bdd_given("the deployment lock is held by a crashed holder with an expired lease")
def lock_crashed(target, namespace):
    lock.seed(target, namespace, "ci-run-crashed", lease_seconds=15, renewed_ago=120)


@when("a deploy is started without waiting", target_fixture="run")
def no_wait(target, namespace):
    return testing.run_deploy(target, testing.options("dev", testing.sha_for("good"), namespace, wait_for_lock=False))


@then(parsers.parse('it is refused naming "{holder}"'))
def refused_naming(target, namespace, run, holder, check):
    e = run.error
    check(Finding(isinstance(e, lock.LockHeld) and e.exit_code == errors.EXIT_REFUSED and holder in str(e)
                  and "\n" not in str(e), "deploy with --no-wait", f"exit 3 naming {holder}",
                  f"{type(e).__name__}: {e}"))
    check(testing.nothing_applied(target, namespace, allow_lease=holder))


@when(parsers.parse('version "{word}" is deployed'), target_fixture="run")
def version_deployed(target, namespace, word):
    return testing.run_deploy(target, testing.options("dev", testing.sha_for(word), namespace))


@then("the deploy succeeds")
def deploy_succeeds(target, run, check):
    check(testing.succeeded(target, run))


@then("for at least 100 generated interleavings no two lock holders overlap")
def p10_property(target, namespace, check):
    n = {"examples": 0, "acquisitions": 0}

    @settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
    @given(plan=st.lists(st.tuples(st.floats(0, 0.02), st.floats(0, 0.02)), min_size=2, max_size=4),
           no_wait=st.booleans())
    def prop(plan, no_wait):
        n["examples"] += 1
        held, refused, errs = [], [], []
        mu = threading.Lock()
        name = "prop-lock"

        def worker(i, delay, hold):
            time.sleep(delay)
            lk = lock.Lock(target, namespace, f"holder-{i}", lease_seconds=30, name=name)
            try:
                lk.acquire(wait=not no_wait or i == 0, timeout=30, interval=0.01)
            except lock.LockHeld as exc:
                refused.append(exc.holder)
                return
            except Exception as exc:  # surfaced below
                errs.append(exc)
                return
            start = time.monotonic()
            time.sleep(hold)
            end = time.monotonic()
            with mu:
                held.append((start, end, i))
            lk.release()

        threads = [threading.Thread(target=worker, args=(i, d, h)) for i, (d, h) in enumerate(plan)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errs, errs
        held.sort()
        for (_, e0, _), (s1, _, _) in zip(held, held[1:], strict=False):
            assert e0 <= s1, held
        assert len(held) + len(refused) == len(plan)
        n["acquisitions"] += len(held)

    prop()
    check(Finding(n["examples"] >= 100, "concurrent Lease holders", ">=100 interleavings, never overlapping",
                  f"{n['examples']} interleavings, {n['acquisitions']} acquisitions", grade=target.grade("kube")))
