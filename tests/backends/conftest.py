"""Fixtures of the backend tests."""

# The toy op registers itself when imported: only the tests that ask for it import it (and
# forget it afterwards), never --doctest-modules' collection, which would register it for the
# whole session.
collect_ignore = ["toy_op.py"]
