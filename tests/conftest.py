"""Shared test setup. (``pythonpath`` in pyproject makes tests/ importable for e2e_support.)"""
