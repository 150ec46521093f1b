"""The stress suite's scoreboard: each attack records one line (what it tried, the faults it injected,
how many the pipeline survived, and what went wrong: rows lost or duplicated, teacher calls repeated,
programs that escaped the sandbox, hangs, unexpected exceptions). Printed as a table at the end of
the session and written as JSON, so a run on any machine gives one answer with a figure per fault."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

HARM = ("lost", "duplicated", "repeated_calls", "escapes", "hangs", "exceptions", "accepted")


@dataclass
class Line:
    group: str  # bad input, fault, security, load
    attack: str
    tried: int = 0  # inputs or cases tried
    faults: int = 0  # faults injected (bad rows, kills, corruptions...)
    survived: int = 0  # faults handled as specified
    lost: int = 0  # good rows (or committed work) missing afterwards
    duplicated: int = 0
    repeated_calls: int = 0  # teacher calls paid twice for the same sample
    escapes: int = 0  # sandboxed programs that reached outside, secrets that leaked
    hangs: int = 0
    exceptions: int = 0  # crashes: an error that is not the clear, named one the attack expects
    accepted: int = 0  # wrong inputs taken as if they were right (a profile mutant that loads)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return self.survived == self.faults and not any(getattr(self, h) for h in HARM)


@dataclass
class Scoreboard:
    lines: list[Line] = field(default_factory=list)

    def record(self, group: str, attack: str, **counts) -> Line:
        line = Line(group, attack, **counts)
        self.lines.append(line)
        return line

    def totals(self) -> dict[str, int]:
        names = [f.name for f in fields(Line) if f.type in ("int", int)]
        return {n: sum(getattr(line, n) for line in self.lines) for n in names}

    def table(self) -> str:
        head = ("group", "attack", "tried", "faults", "survived", *HARM, "s")
        rows = [
            (
                line.group,
                line.attack,
                *(str(getattr(line, c)) for c in ("tried", "faults", "survived", *HARM)),
                f"{line.seconds:.1f}",
            )
            for line in self.lines
        ]
        totals = self.totals()
        rows.append(("TOTAL", "", *(str(totals[c]) for c in ("tried", "faults", "survived", *HARM)), ""))
        widths = [max(len(r[i]) for r in (head, *rows)) for i in range(len(head))]

        def fmt(row: tuple[str, ...]) -> str:
            cells = zip(row, widths, strict=True)
            return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(cells))

        out = [fmt(head), fmt(tuple("-" * w for w in widths))]
        out += [fmt(r) for r in rows]
        notes = [f"  {line.attack}: {n}" for line in self.lines for n in line.notes]
        return "\n".join(out + (["notes:", *notes] if notes else []))

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"totals": self.totals(), "clean": all(line.clean for line in self.lines)}
        data["lines"] = [{**asdict(line), "clean": line.clean} for line in self.lines]
        path.write_text(json.dumps(data, indent=2))
