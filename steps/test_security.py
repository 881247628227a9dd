"""Steps of features/security.feature."""
from pytest_bdd import given, parsers, scenarios, then, when

from provision.findings import caught
from provision.kube import netpol, rbac, render

scenarios("security.feature")


def _rows(datatable):
    head, *rows = datatable
    return [dict(zip(head, r, strict=False)) for r in rows]


@then("the computed reachability between workloads is exactly the allowed set")
def reachability(objects, datatable, check):
    expected = {(r["from"], r["to"], int(r["port"])) for r in _rows(datatable)}
    actual = netpol.workload_reachability(objects, render.render_cluster("dev"))
    check(netpol.check_reachability(actual, expected))


@then("the computed egress beyond the workloads is exactly the allowed set")
def egress(objects, datatable, check):
    expected = {(r["from"], r["to"], int(r["port"]), r["protocol"]) for r in _rows(datatable)}
    actual = netpol.egress_reachability(netpol.policies_of(objects), netpol.workload_endpoints(objects),
                                        netpol.beyond_endpoints(objects))
    check(netpol.check_egress(actual, expected))


@then(parsers.parse('the reachability check fails naming "{evidence}"'))
def reachability_fails(objects, evidence, check, record):
    expected = {("ingress", "web-app", 8080), ("ingress", "api-backend", 8080),
                ("web-app", "api-backend", 8080), ("api-backend", "postgres", 5432)}
    actual = netpol.workload_reachability(objects, render.render_cluster("dev"))
    check(caught(record(netpol.check_reachability(actual, expected)), evidence))


@given("the app is deployed to a fresh namespace", target_fixture="deployed")
def deployed(target, scratch_namespace, check):
    result = rbac.apply_app(target, scratch_namespace, render.render("dev"))
    check(result)
    return scratch_namespace


@given(parsers.parse('a seeded RoleBinding grants "{sa}" the "{role}" ClusterRole'))
def seeded_binding(target, deployed, sa, role):
    rbac.bind_cluster_role(target, deployed, sa, role)


@then("the RBAC can-i matrix of every ServiceAccount matches the allowed matrix")
def rbac_matrix(target, deployed, datatable, check):
    check(rbac.check_matrix(target, deployed, rbac.allowed_matrix(_rows(datatable))))


@then(parsers.parse('the RBAC check fails naming "{evidence}"'))
def rbac_fails(target, deployed, evidence, check, record):
    allowed = rbac.allowed_matrix([{"serviceaccount": "web-app"}, {"serviceaccount": "postgres"},
                                   {"serviceaccount": "default"},
                                   {"serviceaccount": "api-backend", "verbs": "get,watch",
                                    "resource": "configmaps", "name": "app-config"}])
    check(caught(record(rbac.check_matrix(target, deployed, allowed)), evidence))


@when("it is applied to a fresh namespace", target_fixture="applied")
def applied(target, scratch_namespace, objects):
    return rbac.apply_app(target, scratch_namespace, objects)


@then(parsers.parse('the apply check fails naming "{evidence}"'))
def apply_fails(applied, evidence, check, record):
    check(caught(record(applied), evidence))
