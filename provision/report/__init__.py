"""Test results, the requirement catalog and the sign-off report built from them."""
