"""The verification pack: documented cases with their expected results, and the command that runs them
against a running instance (``python -m service verify``; docs/verification.md)."""
