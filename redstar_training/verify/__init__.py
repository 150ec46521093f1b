"""The shared verifier: math (math-verify/sympy), choice letters and code (sandboxed), one set of verdicts.

Statuses everywhere in the pipeline: `correct`, `wrong`, `no_answer`, `timeout`, `error`.
Imports without torch; sympy loads only in the worker processes and where equivalence is imported.
"""

from redstar_training.verify.equivalence import (
    ANSWER_FORMATS,
    STATUSES,
    VERIFIER_VERSION,
    MathTask,
    Verdict,
)
from redstar_training.verify.extract import MODES, answer_region, extract_answer, extract_choice, last_boxed
from redstar_training.verify.service import MathVerifier, default_verifier, verify_completion

__all__ = [
    "ANSWER_FORMATS",
    "MODES",
    "STATUSES",
    "VERIFIER_VERSION",
    "MathTask",
    "MathVerifier",
    "Verdict",
    "answer_region",
    "default_verifier",
    "extract_answer",
    "extract_choice",
    "last_boxed",
    "verify_completion",
]
