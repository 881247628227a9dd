"""Seeded faults, one module per area: each applies a fault to a copy (of a
file, a template, an overlay) or to a throwaway part of the offline target,
so that a test can show the very check it targets turning red."""
