"""Monthly cost estimate of an environment from its templates' parameters and a
pinned price table (provision/cost/prices-<region>.yaml, with its date)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from .. import config, errors
from ..aws.cfn import load, parameters
from ..config import Environment
from ..findings import Finding

PRICE_DIR = Path(__file__).resolve().parent
PRICE_MISSING = "no pinned price for {what} in {table}: add it with the date of the price list"


@dataclass(frozen=True)
class Line:
    item: str
    quantity: str
    unit_price: str
    monthly: float

    def text(self, date: str) -> str:
        return (f"{self.item:<34} {self.quantity:<22} x {self.unit_price:<18} = ${self.monthly:8.2f}/month "
                f"(prices of {date})")


@dataclass(frozen=True)
class Estimate:
    env: str
    lines: tuple[Line, ...]
    total: float
    budget: float
    date: str
    table: str

    def report(self) -> list[str]:
        out = [f"monthly estimate of {self.env} (price table {self.table}, dated {self.date})"]
        out += [ln.text(self.date) for ln in self.lines]
        verdict = "within" if self.total <= self.budget else "OVER"
        out.append(f"{'total':<34} ${self.total:.2f}/month, budget ${self.budget:.2f}: {verdict} budget")
        return out


def price_table(region: str | None = None) -> dict:
    region = region or config.settings()["aws"]["region"]
    path = PRICE_DIR / f"prices-{region}.yaml"
    table = yaml.safe_load(path.read_text())
    table["_name"] = path.name
    return table


def estimate(env: Environment, table: dict | None = None) -> Estimate:
    """The estimate for an environment (possibly with overrides), read through its templates."""
    table = table or price_table()
    p, use, hours = table["prices"], table["usage"], float(table["hours_per_month"])
    # Read the sizing the templates would receive, so the estimate follows the templates.
    eks = parameters.rendered("eks", env)
    net = parameters.rendered("network", env)
    mon = parameters.rendered("monitoring", env)
    ng = next(iter(eks.resources("AWS::EKS::Nodegroup").values()))["Properties"]
    itype = ng["InstanceTypes"][0]
    nodes = int(ng["ScalingConfig"]["DesiredSize"])
    disk = int(ng.get("DiskSize", use["node_disk_gb"]))
    # The NatGateways parameter is the count the template is asked for (priced as asked).
    nats = int(net.refs.get("NatGateways", len(net.resources("AWS::EC2::NatGateway"))))
    alarms = len(mon.resources("AWS::CloudWatch::Alarm"))
    dashboards = len(mon.resources("AWS::CloudWatch::Dashboard"))
    # The backup stack (backup.yaml) adds its bucket and its own key.
    backup = parameters.rendered("backup", env) if load.path("backup", env.template_dir).exists() else None
    keys = len(eks.resources("AWS::KMS::Key")) + (len(backup.resources("AWS::KMS::Key")) if backup else 0)
    buckets = len(backup.resources("AWS::S3::Bucket")) if backup else 0
    if itype not in p["ec2_hour"]:
        raise errors.BadInput(PRICE_MISSING.format(what=f"EC2 {itype}", table=table["_name"]))
    lines = [
        Line("EKS control plane", f"1 x {hours:.0f} h",
             f"${p['eks_control_plane_hour']}/h", p["eks_control_plane_hour"] * hours),
        Line(f"EC2 {itype} nodes", f"{nodes} x {hours:.0f} h",
             f"${p['ec2_hour'][itype]}/h", nodes * p["ec2_hour"][itype] * hours),
        Line("EBS gp3 node disks", f"{nodes} x {disk} GB",
             f"${p['ebs_gp3_gb_month']}/GB-mo", nodes * disk * p["ebs_gp3_gb_month"]),
        Line("EBS gp3 volume (postgres)", f"{use['pvc_gb']} GB",
             f"${p['ebs_gp3_gb_month']}/GB-mo", use["pvc_gb"] * p["ebs_gp3_gb_month"]),
        Line("NAT gateways", f"{nats} x {hours:.0f} h",
             f"${p['nat_gateway_hour']}/h", nats * p["nat_gateway_hour"] * hours),
        Line("NAT data processed", f"{use['nat_gb_month']} GB",
             f"${p['nat_gateway_gb']}/GB", use["nat_gb_month"] * p["nat_gateway_gb"]),
        Line("NAT public IPv4", f"{nats} x {hours:.0f} h",
             f"${p['public_ipv4_hour']}/h", nats * p["public_ipv4_hour"] * hours),
        Line("Network load balancer", f"1 x {hours:.0f} h", f"${p['nlb_hour']}/h", p["nlb_hour"] * hours),
        Line("NLB capacity units", f"{use['nlb_lcu']} LCU x {hours:.0f} h",
             f"${p['nlb_lcu_hour']}/LCU-h", use["nlb_lcu"] * p["nlb_lcu_hour"] * hours),
        Line("CloudWatch logs ingestion", f"{use['logs_gb_month']} GB",
             f"${p['cloudwatch_logs_ingest_gb']}/GB", use["logs_gb_month"] * p["cloudwatch_logs_ingest_gb"]),
        Line("CloudWatch logs storage", f"{use['logs_gb_month']} GB", f"${p['cloudwatch_logs_store_gb_month']}/GB-mo",
             use["logs_gb_month"] * p["cloudwatch_logs_store_gb_month"]),
        Line("Container Insights (estimate)", f"{nodes} nodes",
             f"${p['container_insights_node_month']}/node-mo", nodes * p["container_insights_node_month"]),
        Line("CloudWatch alarms", f"{alarms} alarms",
             f"${p['cloudwatch_alarm_month']}/alarm-mo", alarms * p["cloudwatch_alarm_month"]),
        Line("CloudWatch dashboards", f"{dashboards} dashboards",
             f"${p['cloudwatch_dashboard_month']}/mo", dashboards * p["cloudwatch_dashboard_month"]),
        Line("KMS keys", f"{keys} keys", f"${p['kms_key_month']}/key-mo", keys * p["kms_key_month"]),
        Line("S3 backups (Standard)", f"{buckets} bucket, {use['backup_gb'] * buckets} GB",
             f"${p['s3_standard_gb_month']}/GB-mo", buckets * use["backup_gb"] * p["s3_standard_gb_month"]),
    ]
    total = round(sum(ln.monthly for ln in lines), 2)
    return Estimate(env.name, tuple(lines), total, float(env["budget_usd"]), str(table["date"]), table["_name"])


def within_budget(est: Estimate) -> Finding:
    return Finding(
        est.total <= est.budget,
        f"monthly estimate of {est.env}",
        f"at most ${est.budget:.2f}",
        f"${est.total:.2f}" + ("" if est.total <= est.budget else f", over the budget of ${est.budget:.2f}"),
        tuple(est.report()),
        grade="model",
    )


def lines_name_prices(est: Estimate) -> Finding:
    bad = [ln.item for ln in est.lines if not ln.unit_price.startswith("$")]
    text = [ln.text(est.date) for ln in est.lines]
    ok = not bad and bool(est.date) and all(f"prices of {est.date}" in t for t in text)
    return Finding(
        ok,
        "every estimate line names its price and the table's date",
        f"unit price and date {est.date}",
        ", ".join(bad) or f"{len(text)} lines",
        tuple(text),
        grade="static",
    )
