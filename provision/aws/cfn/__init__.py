"""CloudFormation templates read as CloudFormation would: load (the one YAML
loader with the short tags), parameters (per Environment), resolve (the one
intrinsic-function evaluator, strict or lenient) and lint (cfn-lint)."""
