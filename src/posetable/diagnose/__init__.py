"""Diagnosis: checks of keypoint data without a model, and error analysis with one.

Example:
    >>> from posetable.diagnose.check import RULES
    >>> len(RULES)
    12
"""
