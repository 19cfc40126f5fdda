"""The audit log: one JSON line per action or refusal, hash-chained (docs/audit.md).

Writing (``log``), checking the chain (``verify``), finding a phone number by its keyed hash
(``find``, ``phone_hash``). Imports nothing above it: every other room may write here.
"""
