"""A generated corpus of hostile math answers: deep nesting, power towers, huge factorials, 1 MB
strings, unbalanced braces, unicode junk. Deterministic (seeded), so a failure can be replayed."""

from __future__ import annotations

import random


def pathological_answers(seed: int = 0) -> list[tuple[str, str]]:
    """(gold, prediction-as-model-output) pairs, at least 200."""
    rng = random.Random(seed)
    pairs: list[tuple[str, str]] = []
    for depth in (5, 10, 30, 60):  # nested braces to depth 60
        pairs.append(("1", "\\boxed{" + "\\frac{1}{" * depth + "2" + "}" * depth + "}"))
        pairs.append(("1", "\\boxed{" + "{" * depth + "x" + "}" * depth + "}"))
        pairs.append(("1", "\\boxed{" + "\\sqrt{" * depth + "2" + "}" * depth + "}"))
    for height in (4, 6, 8):  # power towers
        for base in (2, 9):
            tower = "{" + "^{".join([str(base)] * height) + "}" * height
            pairs.append(("1", f"\\boxed{{{tower}}}"))
            pairs.append((f"{base}", f"\\boxed{{{tower} - {tower}}}"))
    for n in (10**5, 10**8):  # huge factorials
        pairs.append(("1", f"\\boxed{{{n}!}}"))
        pairs.append(("1", f"\\boxed{{({n}!)!}}"))
        pairs.append(("2", f"\\boxed{{\\frac{{{n}!}}{{{n - 1}!}}}}"))
    for size in (1 << 16, 1 << 18, 1 << 20):  # up to 1 MB strings
        pairs.append(("1", "\\boxed{" + "1" * size + "}"))
        pairs.append(("1", "\\boxed{" + "x+" * (size // 2) + "1}"))
        pairs.append(("1", "a" * size))
        pairs.append(("1", "\\boxed{" + "(" * (size // 4) + "}"))
    for count in (10, 1000, 100_000):  # unbalanced braces
        pairs.append(("1", "\\boxed{" * count))
        pairs.append(("1", "\\boxed{1" + "}" * count + "{" * count))
        pairs.append(("1", "\\boxed{" + "{" * count + "1}"))
        pairs.append(("1", "}{" * count + "\\boxed{1}"))
    junk = [chr(c) for c in (0x202E, 0x200B, 0xFEFF, 0x1F4A9, 0x0301, 0xFFFD, 0x2028, 0x0000, 0x10FFFF, 0xD7FF)]
    for _ in range(140):  # unicode junk
        text = "".join(rng.choice(junk + list("0123456789{}^\\$x")) for _ in range(rng.randint(5, 400)))
        pairs.append((rng.choice(["1", "\\frac{1}{2}", "x"]), f"\\boxed{{{text}}}"))
    for _ in range(6):  # exponent and matrix bombs
        a, b = rng.randint(50, 999), rng.randint(50, 999)
        pairs.append(("1", f"\\boxed{{{a}^{{{b}^{{{a}}}}}}}"))
    pairs.append(("1", "\\boxed{\\begin{pmatrix}" + "&".join(["x"] * 300) + "\\end{pmatrix}^{99}}"))
    return pairs
