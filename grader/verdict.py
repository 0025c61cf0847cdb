"""A failed step as data (:class:`grader.results.Failure`), and its text for the student.

The engine turns the :class:`~grader.steps.StepFailed` a test ended with into
a :class:`~grader.results.Failure` (:func:`structured`): the step and its spec
line, what was sent, expected and got, the causes (code, text in the
submission's language, the excerpt of calls that shows it, advice) and the
hints the evidence leaves standing.  :func:`feedback_text` is the one text
rendering of it (the terminal, Gradescope, ... show that text; JSON and JUnit
also carry the fields).
"""

from __future__ import annotations

from . import idioms
from .evidence import hint_code
from .results import Cause, Failure
from .spec import Language

_EXPECTED, _GOT = "expected:", "got:"


def structured(f, lang: Language | None) -> Failure:
    """``f`` (a StepFailed, after :func:`grader.evidence.explain`) as a Failure."""
    step = getattr(f, "step", None)
    found = {x.code: x for x in getattr(f, "findings", [])}
    ruled_out = set(getattr(f, "ruled_out", []))
    causes: list[Cause] = []
    hints: list[str] = []
    seen: set[str] = set()
    for text, code in f.causes:
        if code == "hint":
            topic = hint_code(text, getattr(step, "cause", None) if step is not None
                              and step.hint == text else None)
            hints.append(idioms.restate_hint(text, topic, lang))
            continue
        if not text or text in seen:
            continue
        seen.add(text)
        x = found.get(code)
        causes.append(Cause(code=code, text=idioms.restate(code, text, lang),
                            evidence=x.excerpt() if x is not None else [],
                            advice=idioms.advice_for(code, lang)))
    codes = {c.code for c in causes}
    # A hint's own code (spec `cause:`) comes as ("", code): a cause with no text of its own.
    for text, code in f.causes:
        if not text and code not in codes and code != "hint" and code not in ruled_out:
            causes.append(Cause(code=code, text="", advice=idioms.advice_for(code, lang)))
            codes.add(code)
    expected = got = None
    details = []
    for line in f.details:
        if line.startswith(_EXPECTED) and expected is None:
            expected = line[len(_EXPECTED):].strip()
        elif line.startswith(_GOT) and got is None:
            got = line[len(_GOT):].strip()
        else:
            details.append(line)
    return Failure(message=f.message, step=step.action if step is not None else None,
                   spec_line=step.line if step is not None else None,
                   sent=getattr(f, "sent", None), expected=expected, got=got, details=details,
                   causes=causes, hints=hints, evidence=getattr(f, "evidence", "outside"),
                   evidence_note=getattr(f, "evidence_note", ""), ruled_out=sorted(ruled_out))


def diagnoses(failure: Failure) -> list[str]:
    return sorted({c.code for c in failure.causes})


def feedback_text(failure: Failure, stderr_tail: str = "", used_seed: int | None = None,
                  lang: Language | None = None) -> str:
    lines = []
    if failure.step is not None:
        lines.append(f"step '{failure.step}' (spec line {failure.spec_line}): {failure.message}")
    else:
        lines.append(failure.message)
    if failure.expected is not None:
        lines.append(f"  expected: {failure.expected}")
    if failure.got is not None:
        lines.append(f"  got:      {failure.got}")
    lines += [f"  {d}" for d in failure.details]
    for c in failure.causes:
        if not c.text:
            continue
        lines.append(f"likely cause: {c.text}")
        if c.evidence:
            lines.append("  the program's calls that show it:")
            lines += [f"    {e}" for e in c.evidence]
    for h in failure.hints:
        lines.append(f"hint: {h}")
    who = idioms.name_of(lang)
    for advice in dict.fromkeys(c.advice for c in failure.causes if c.advice):
        lines.append(f"in {who}: {advice}")
    if stderr_tail.strip():
        lines.append("the program's stderr (last lines):")
        lines += [f"  | {ln}" for ln in stderr_tail.splitlines()]
    if used_seed is not None:
        lines.append(f"random data and timing used seed {used_seed}: "
                     f"`grader check --seed {used_seed}` replays it exactly")
    return "\n".join(lines)
