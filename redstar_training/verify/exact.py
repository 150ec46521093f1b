"""Exact answers compared without sympy: rationals (`\\frac{7}{4}`, `7/4`, `1.75`), rational multiples of
pi (`3\\pi/4`) and of a square root (`2\\sqrt{3}` = `\\sqrt{12}`), and tuples or intervals of those with the
same brackets. A verifier judging a million answers cannot send every fraction to a sympy worker, and these
forms have one canonical value each; anything outside this small grammar (a decimal beside an irrational,
`\\sqrt3` without braces, text) returns None and goes to math-verify."""

from __future__ import annotations

import re
from fractions import Fraction

_INT = r"\d{1,30}"
_SPACE = re.compile(r"\s+|\\[,;:! ]")
_FRAC = re.compile(rf"^(-?)\\frac\{{(-?{_INT})\}}\{{({_INT})\}}$")
_SLASH = re.compile(rf"^(-?{_INT})/({_INT})$")
_PI = [
    re.compile(rf"^(-?)\\frac\{{({_INT})?\\pi\}}\{{({_INT})\}}$"),  # \frac{3\pi}{4}
    re.compile(rf"^(-?)({_INT})?\\pi/({_INT})$"),  # 3\pi/4
    re.compile(rf"^(-?)\\frac\{{({_INT})\}}\{{({_INT})\}}\\pi$"),  # \frac{3}{4}\pi
    re.compile(rf"^(-?)({_INT})?\\pi()$"),  # 3\pi, \pi
]
_SQRT = re.compile(rf"^(-?)({_INT})?\\sqrt\{{({_INT})\}}$")
_PAIR = re.compile(r"^([(\[])(.*)([)\]])$")
_NUMBER = re.compile(r"^[+-]?(\d{1,30}(\.\d{0,30})?|\.\d{1,30})$")
FLOAT_ROUNDING = 6  # math-verify's default float_rounding (numbers_equal uses it too)


def _clean(s: str) -> str:
    s = s.strip().strip("$").strip().replace("\\left", "").replace("\\right", "")
    return _SPACE.sub("", s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac"))


def _squarefree(n: int) -> tuple[int, int]:
    """n = k*k*m with m square-free: (k, m); trial division, for radicands of up to 12 digits."""
    if n > 10**12:
        raise ValueError("radicand too large for the exact path")
    k, m, f = 1, n, 2
    while f * f <= m:
        while m % (f * f) == 0:
            m //= f * f
            k *= f
        f += 1
    return k, m


def value(s: str) -> tuple[str, Fraction, int] | None:
    """(kind, coefficient, radicand): ("q", r, 1) for a rational r, ("pi", r, 1) for r*pi and
    ("sqrt", r, m) for r*sqrt(m), m square-free > 1; None outside the grammar."""
    s = _clean(s)
    if _NUMBER.match(s):
        return "q", Fraction(s), 1
    if m := _FRAC.match(s):
        return ("q", Fraction(int(m[2]), int(m[3])) * (-1 if m[1] else 1), 1) if int(m[3]) else None
    if m := _SLASH.match(s):
        return ("q", Fraction(int(m[1]), int(m[2])), 1) if int(m[2]) else None
    for pattern in _PI:
        if m := pattern.match(s):
            den = int(m[3]) if m[3] else 1
            return ("pi", Fraction(int(m[2] or 1), den) * (-1 if m[1] else 1), 1) if den else None
    if m := _SQRT.match(s):
        try:
            k, radicand = _squarefree(int(m[3]))
        except ValueError:
            return None
        coef = Fraction(int(m[2] or 1) * k) * (-1 if m[1] else 1)
        return ("q", coef, 1) if radicand == 1 else ("sqrt", coef, radicand)
    return None


def _same_value(gold: str, pred: str) -> bool | None:
    g, p = value(gold), value(pred)
    if g is None or p is None:
        return None
    if g[0] == p[0] == "q" and ("." in gold or "." in pred):  # floats: math-verify rounds to 6 decimals
        return round(g[1], FLOAT_ROUNDING) == round(p[1], FLOAT_ROUNDING)
    if "." in gold or "." in pred:
        return None  # a decimal beside an irrational: math-verify's numeric comparison decides
    if g[1] == 0 or p[1] == 0:
        return g[1] == p[1]
    return g == p  # pi and square roots of square-free numbers are irrational: other kinds differ


def _order(parts: list[str]) -> str | None:
    """For two rational ends: "proper" (a < b) or "empty" (a >= b, an empty interval, and all empty
    intervals are equal); "tuple" for three or more parts; None when it cannot be told here."""
    if len(parts) != 2:
        return "tuple" if len(parts) > 2 else None
    a, b = value(parts[0]), value(parts[1])
    if a is None or b is None or a[0] != "q" or b[0] != "q":
        return None
    return "proper" if a[1] < b[1] else "empty"


def exactly_equal(gold: str, pred: str) -> bool | None:
    """True or False when both sides are in the grammar (scalars, or tuples/intervals of them); None
    otherwise. Two-element ones may be tuples or intervals: a proper interval differs from one with
    other brackets and from an empty one, whichever reading math-verify takes."""
    g, p = _clean(gold), _clean(pred)
    gm, pm = _PAIR.match(g), _PAIR.match(p)
    if gm or pm:
        if not (gm and pm):
            return None
        gs, ps = gm[2].split(","), pm[2].split(",")
        go, po = _order(gs), _order(ps)
        if len(gs) != len(ps) or go is None or po is None:
            return None
        if (gm[1], gm[3]) != (pm[1], pm[3]):
            return False if go == po == "proper" else None
        if go != po:
            return False  # a proper interval (or tuple) against an empty one
        if go == "empty":
            return None
        verdicts = [_same_value(a, b) for a, b in zip(gs, ps, strict=True)]
        if None in verdicts:
            return None
        return all(verdicts)
    return _same_value(g, p)
