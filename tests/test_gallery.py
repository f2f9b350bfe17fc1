"""The gallery of issue 14 (tests/gallery.txt): inputs as people write them.

Each entry either derives to exactly the same formulas as its canonical spelling (both are
derived, and every formula, steps included, is compared as text, with the inputs' names,
shapes and kinds), or is refused with a message that holds the expected words and suggests
a rewrite (`MatcalcError.fix`) that itself derives. No entry is accepted and read as
something else.
"""
from pathlib import Path

import pytest

import matcalc
from matcalc.errors import MatcalcError

GALLERY = Path(__file__).resolve().parent / "gallery.txt"


def entries() -> list[dict]:
    records, record = [], {}
    for line in GALLERY.read_text(encoding="utf-8").splitlines() + [""]:
        if line.startswith("#"):
            continue
        if not line.strip():
            if record:
                records.append(record)
            record = {}
            continue
        key, _, value = line.partition(":")
        record[key.strip()] = value.strip()
    return records


ENTRIES = entries()


def _shapes(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    return dict(part.strip().split("=", 1) for part in text.split(";"))


def _formulas(d) -> str:
    """Everything a derivation says, as text: inputs, steps and formulas."""
    return d.text(steps=True)


def test_the_gallery_has_at_least_120_inputs_from_every_source():
    assert len(ENTRIES) >= 120
    sources = " ".join(e["src"] for e in ENTRIES)
    for source in ("seed", "Cookbook", "d2l", "CS231n", "LaTeX", "forum", "issue 14"):
        assert source in sources, source
    assert sum("no" in e for e in ENTRIES) >= 30
    assert sum("\\" in e["in"] for e in ENTRIES) >= 30


@pytest.mark.parametrize("entry", [e for e in ENTRIES if "is" in e],
                         ids=lambda e: e["in"][:50])
def test_an_accepted_spelling_derives_the_same_formulas_as_its_canonical_form(entry):
    shapes = _shapes(entry.get("with"))
    ours = matcalc.derive(entry["in"], shapes=shapes)
    canonical = matcalc.derive(entry["is"], shapes=shapes, notation="matcalc")
    assert _formulas(ours) == _formulas(canonical)
    assert ours.typed.notes == canonical.typed.notes


@pytest.mark.parametrize("entry", [e for e in ENTRIES if "no" in e],
                         ids=lambda e: e["in"][:50])
def test_a_refused_spelling_says_why_and_its_suggestion_derives(entry):
    shapes = _shapes(entry.get("with"))
    with pytest.raises(MatcalcError) as info:
        matcalc.derive(entry["in"], shapes=shapes)
    err = info.value
    rendered = err.render()
    assert entry["no"] in rendered
    assert err.fix is not None, f"no suggestion that is an input:\n{rendered}"
    fixed = matcalc.derive(err.fix.program, shapes={**shapes, **dict(err.fix.shapes)})
    assert len(fixed.derivatives) > 0
    if err.span is not None:                    # the caret is inside what was written
        assert 0 <= err.span.start <= err.span.end <= len(entry["in"])
