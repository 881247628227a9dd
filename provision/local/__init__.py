"""The embedded default: the offline target, started on this machine.

Each component module (moto, controlplane, postgres, edge, oidc) has
`start(state_dir, progress) -> dict` returning its endpoints, and
`stop(state_dir)`. `stack` starts them together and builds the Target.
"""
