"""Seeded faults of the templates: applied to a copy, never to the committed files."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from . import templates

# fault -> (template, pattern, replacement): each must match the committed template.
TEMPLATE_FAULTS = {
    "malformed-template": ("eks.yaml", r"^Resources:\n", "Resources:\n  Broken: [unclosed\n"),
    # The first private route table sends 0.0.0.0/0 to the internet gateway: its subnet turns public.
    "public-node-subnet": ("network.yaml", r"NatGatewayId: !Ref NatGateway1\n", "GatewayId: !Ref InternetGateway\n"),
    "no-secret-encryption": ("eks.yaml", r"      EncryptionConfig:\n(        .*\n)+?(?=      Logging:)", ""),
    "wrong-instance-type": ("eks.yaml", r"InstanceTypes: \[!Ref NodeInstanceType\]", "InstanceTypes: [m5.xlarge]"),
    "alarm-without-action": ("monitoring.yaml", r"      AlarmActions: \[!Ref AlertTopic\]\n", ""),
}
FAULT_UNKNOWN = "unknown seeded fault {fault!r}: expected one of {known}"
FAULT_STALE = "seeded fault {fault!r} no longer matches {template}: update provision/aws/faults.py"


def seeded_templates(fault: str, dest: Path) -> Path:
    """A copy of the templates in `dest` with `fault` applied; returns the copy's directory."""
    if fault not in TEMPLATE_FAULTS:
        raise KeyError(FAULT_UNKNOWN.format(fault=fault, known=", ".join(TEMPLATE_FAULTS)))
    dest = Path(dest) / "cloudformation"
    shutil.copytree(templates.TEMPLATE_DIR, dest, dirs_exist_ok=True)
    name, pattern, replacement = TEMPLATE_FAULTS[fault]
    text = (dest / name).read_text()
    new, n = re.subn(pattern, replacement, text, count=1, flags=re.M)
    if n != 1:
        raise AssertionError(FAULT_STALE.format(fault=fault, template=name))
    (dest / name).write_text(new)
    return dest
