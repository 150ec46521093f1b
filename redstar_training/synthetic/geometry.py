"""Generated geometry problems with drawn figures, and the procedural teacher that solves them. Each
question needs a value printed only in the figure (an angle of a triangle, at a transversal or at a
circle's centre), so a model blind to the image can only guess among four choices: the image-blind
baseline. The value is printed large in a fixed legend band, so a CPU-trained student can learn to read it;
the facts are also in the PNG's `redstar-figure` text chunk, which processors drop: only the teacher reads it."""

from __future__ import annotations

import io
import json
import math
import random
from dataclasses import dataclass

from redstar_training.synthetic.procedural import TeacherSample, sample_rng

TEACHER_ID = "procedural-geo-v1"
KINDS = ("triangle", "parallel", "circle")
LETTERS = "ABCD"
FACTS_KEY = "redstar-figure"


@dataclass(frozen=True)
class GeoProblem:
    problem: str
    answer: str  # the correct letter
    choices: tuple[str, ...]
    image: bytes
    kind: str
    hidden: int  # the value printed only in the figure


def _font(size: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


LEGEND = 0.3  # the share of the figure's height the legend band takes


def _png(draw_fn, size: int, facts: dict, legend: str) -> bytes:
    """The drawing in the lower part of the figure and, in a band above it, the legend that prints
    the value the question needs (as a textbook figure's caption does), always in the same place."""
    from PIL import Image, ImageDraw
    from PIL.PngImagePlugin import PngInfo

    drawing = Image.new("RGB", (size, size), "white")
    draw_fn(ImageDraw.Draw(drawing), size)
    band = int(size * LEGEND)
    im = Image.new("RGB", (size, size), "white")
    im.paste(drawing.resize((size - band, size - band), Image.Resampling.LANCZOS), (band // 2, band))
    name, value = legend.split("=")
    pen = ImageDraw.Draw(im)
    pen.text((size * 0.03, size * 0.08), name, fill="black", font=_font(max(8, int(size * 0.1))))
    pen.text((size * 0.36, size * 0.01), value, fill="blue", font=_font(max(12, int(size * 0.24))))
    info = PngInfo()
    info.add_text(FACTS_KEY, json.dumps(facts, sort_keys=True))
    out = io.BytesIO()
    im.save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def _jitter(rng: random.Random, spread: float) -> float:
    """A layout offset in [-spread, spread] (a fraction of the side): no two figures drawn alike, so a
    held-out figure is a new drawing, not a training one with its choices reordered."""
    return rng.uniform(-spread, spread)


def _triangle(a: int, b: int, size: int, rng: random.Random):
    """Triangle ABC with the angle at B drawn to size and printed; the angle at A is only stated."""
    shift, lift = _jitter(rng, 0.06), _jitter(rng, 0.06)

    def draw(d, s):
        pad, base = s * (0.12 + shift), s * (0.78 + lift)
        ax, bx = pad, s * (0.88 + shift)
        # apex C from the two base angles, scaled to fit
        ta, tb = math.tan(math.radians(a)), math.tan(math.radians(b))
        cx = ax + (bx - ax) * tb / (ta + tb)
        cy = base - (cx - ax) * ta
        if cy < s * 0.12:  # too tall: squash vertically (labels carry the values, not the drawing)
            cy = s * 0.12
        d.polygon([(ax, base), (bx, base), (cx, cy)], outline="black", width=max(2, s // 110))
        font = _font(max(12, s // 9))
        d.text((ax - s * 0.07, base + 2), "A", fill="black", font=font)
        d.text((bx + 2, base + 2), "B", fill="black", font=font)
        d.text((cx - s * 0.03, cy - s * 0.13), "C", fill="black", font=font)
        d.arc([bx - s * 0.12, base - s * 0.12, bx + s * 0.12, base + s * 0.12], 180, 180 + b, fill="blue", width=2)

    return draw


def _parallel(x: int, size: int, rng: random.Random):
    """Two horizontal parallel lines cut by a transversal; angle 1 (printed) at the upper crossing,
    angle 2 (asked) at the lower, on the same side: co-interior, so they add to 180."""
    top, gap, centre = 0.30 + _jitter(rng, 0.06), 0.36 + _jitter(rng, 0.05), 0.5 + _jitter(rng, 0.1)

    def draw(d, s):
        y1, y2, w = s * top, s * (top + gap), max(2, s // 110)
        d.line([(s * 0.05, y1), (s * 0.95, y1)], fill="black", width=w)
        d.line([(s * 0.05, y2), (s * 0.95, y2)], fill="black", width=w)
        slope = 1 / math.tan(math.radians(x))
        x1 = s * centre - (y2 - y1) / 2 * slope
        x2 = s * centre + (y2 - y1) / 2 * slope
        d.line([(x1 - slope * s * 0.2, y1 - s * 0.2), (x2 + slope * s * 0.2, y2 + s * 0.2)], fill="black", width=w)
        font = _font(max(12, s // 9))
        d.text((s * 0.02, y1 - s * 0.13), "a", fill="black", font=font)
        d.text((s * 0.02, y2 - s * 0.13), "b", fill="black", font=font)
        d.text((x1 + s * 0.04, y1 + s * 0.02), "1", fill="blue", font=font)
        d.text((x2 + s * 0.06, y2 - s * 0.14), "2", fill="red", font=font)

    return draw


def _circle(central: int, size: int, rng: random.Random):
    """Circle with centre O; the central angle AOB is printed; C lies on the major arc."""
    dx, dy, radius, turn = _jitter(rng, 0.04), _jitter(rng, 0.04), 0.34 + _jitter(rng, 0.03), _jitter(rng, 25)

    def draw(d, s):
        cx, cy = s * (0.5 + dx), s * (0.5 + dy)
        r, w = s * radius, max(2, s // 110)
        d.ellipse([cx - r, cy - r, cx + r, cy + r], outline="black", width=w)
        start = 90 - central / 2 + turn
        pa = (cx + r * math.cos(math.radians(start)), cy + r * math.sin(math.radians(start)))
        pb = (cx + r * math.cos(math.radians(start + central)), cy + r * math.sin(math.radians(start + central)))
        top = math.radians(start + central / 2 + 180)  # C on the major arc, opposite the chord AB
        pc = (cx + r * math.cos(top), cy + r * math.sin(top))
        for p in (pa, pb):
            d.line([(cx, cy), p], fill="black", width=w)
            d.line([pc, p], fill="black", width=w)
        font = _font(max(12, s // 9))
        d.text((cx + 3, cy - s * 0.12), "O", fill="black", font=font)
        d.text((pa[0] + 2, pa[1]), "A", fill="black", font=font)
        d.text((pb[0] - s * 0.09, pb[1]), "B", fill="black", font=font)
        d.text((pc[0] - s * 0.03, pc[1] - s * 0.12), "C", fill="black", font=font)

    return draw


def _choices(correct: int, rng: random.Random, others: list[int]) -> tuple[tuple[str, ...], str]:
    """Four distinct degree values, the correct one at a uniformly drawn letter. The wrong ones are
    the answers the same question has over other figures, so the choices alone do not give it away."""
    wrong = sorted({v for v in others if v != correct and 0 < v < 180})
    rng.shuffle(wrong)
    wrong = wrong[:3]
    if len(wrong) < 3:
        raise ValueError("geometry problems need at least four distinct printed values for their choices")
    at = rng.randrange(4)
    ordered = wrong[:at] + [correct] + wrong[at:]
    return tuple(f"{v}°" for v in ordered), LETTERS[at]


def make_problem(kind: str, values: list[int], rng: random.Random, size: int = 224) -> GeoProblem:
    """One problem of `kind`; the figure's printed value is drawn from `values` (degrees)."""
    if not values or not all(isinstance(v, int) and 0 < v < 90 for v in values):
        raise ValueError(f"geometry values must be whole degrees between 0 and 90, got {values!r}")
    hidden = rng.choice(values)
    if kind == "triangle":
        stated = rng.choice((30, 40, 50, 60, 70))
        correct = 180 - stated - hidden
        text = f"In triangle ABC shown in the figure, angle A is {stated}°. What is angle C?"
        draw, others = _triangle(stated, hidden, size, rng), [180 - stated - v for v in values]
        facts = {"kind": kind, "angle_A": stated, "angle_B": hidden}
    elif kind == "parallel":
        correct = 180 - hidden
        text = "In the figure, line a is parallel to line b. What is angle 2?"
        draw, others = _parallel(hidden, size, rng), [180 - v for v in values]
        facts = {"kind": kind, "angle_1": hidden}
    elif kind == "circle":
        hidden *= 2  # the printed central angle, under 180
        correct = hidden // 2
        text = "In the figure, O is the centre of the circle and C lies on the circle. What is angle ACB?"
        draw, others = _circle(hidden, size, rng), list(values)
        facts = {"kind": kind, "angle_AOB": hidden}
    else:
        raise ValueError(f"unknown geometry kind {kind!r}; known: {KINDS}")
    choices, letter = _choices(correct, rng, others)
    listed = " ".join(f"({LETTERS[i]}) {c}" for i, c in enumerate(choices))
    facts["choices"] = list(choices)
    legend = {"triangle": "B:", "parallel": "1:", "circle": "AOB:"}[kind] + f"={hidden}°"
    image = _png(draw, size, facts, legend)
    return GeoProblem(f"{text}\nChoices: {listed}", letter, choices, image, kind, hidden)


def figure_facts(image: bytes) -> dict:
    """What the figure shows, as the generator wrote it into the PNG's text chunk."""
    from PIL import Image

    with Image.open(io.BytesIO(image)) as im:
        raw = im.info.get(FACTS_KEY)  # type: ignore[attr-defined]
    if raw is None:
        raise ValueError("the procedural geometry teacher only reads figures this generator drew")
    return json.loads(raw)


@dataclass(frozen=True)
class GeoTeacherConfig:
    """How often the teacher misreads the printed value, and how often its check catches it."""

    misread_rate: float = 0.15
    catch_rate: float = 0.5
    seed: int = 0


def _reasoning(facts: dict, seen: int) -> tuple[list[str], int]:
    kind = facts["kind"]
    if kind == "triangle":
        a = facts["angle_A"]
        return [
            f"The figure marks the angle at B as {seen}°; the question gives angle A = {a}°.",
            "The angles of a triangle add up to 180°.",
            f"angle C = 180 - {a} - {seen} = {180 - a - seen}",
        ], 180 - a - seen
    if kind == "parallel":
        return [
            f"The figure marks angle 1 as {seen}° where the transversal meets line a.",
            "Angle 2 is on the same side of the transversal, between the parallel lines: co-interior angles.",
            f"Co-interior angles add up to 180°, so angle 2 = 180 - {seen} = {180 - seen}",
        ], 180 - seen
    return [
        f"The figure marks the central angle AOB as {seen}°.",
        "An inscribed angle is half the central angle on the same arc AB.",
        f"angle ACB = {seen} / 2 = {seen // 2}",
    ], seen // 2


def _printed(facts: dict) -> int:
    return next(v for k, v in facts.items() if k in ("angle_B", "angle_1", "angle_AOB"))


def solve(problem_text: str, image: bytes, sample_index: int, problem_id: str, cfg: GeoTeacherConfig) -> TeacherSample:
    """One sampled trace: it reads the printed value (sometimes misreading it by 10°), reasons to the
    value, checks it against the choices and the figure, and boxes a letter."""
    facts = figure_facts(image)
    rng = sample_rng(cfg, problem_id, sample_index)  # type: ignore[arg-type]
    truth = _printed(facts)
    seen = truth + rng.choice([-10, 10]) if rng.random() < cfg.misread_rate else truth
    lines, value = _reasoning(facts, seen)
    if seen != truth and rng.random() < cfg.catch_rate:
        lines.append(f"Check: looking at the figure again, the printed value is {truth}°, not {seen}°. Redo.")
        more, value = _reasoning(facts, truth)
        lines += more
    choices = facts["choices"]
    if f"{value}°" in choices:
        letter = LETTERS[choices.index(f"{value}°")]
        lines.append(f"{value}° is choice ({letter}).")
    else:
        letter = LETTERS[rng.randrange(len(choices))]
        lines.append(f"{value}° is not among the choices; the closest reading is ({letter}).")
    text = "<think>\n" + "\n".join(lines) + "\n</think>\n\\boxed{" + letter + "}"
    return TeacherSample(text=text, finish_reason="stop", completion_tokens=len(text.split()))
