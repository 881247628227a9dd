"""`provision check`: the static rules of this project on anyone's manifests, workflows and templates.

discover.py finds the inputs under the given paths; manifests.py, workflows.py and templates.py run
the rules of each kind (the rule functions live with their system: provision/kube, provision/ci,
provision/aws); issues.py turns their Findings into located issues; formats.py prints text, JSON and
SARIF 2.1.0; commands.py is the CLI verb. Generic rules apply to any input; this project's policy rules
only when a settings.yaml is given or found at the root of the checked path.
"""
