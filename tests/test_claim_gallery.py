"""The claim gallery (tests/claim_gallery.py): every wrong claim is WRONG and, for at
least 90% of them, the first diagnosis is the teacher's; every diagnosis named makes the
claim right when it is undone (its corrected formula is RIGHT through the public API, its
option makes the claim RIGHT, its symmetric matrix made symmetric in the program makes the
claim RIGHT); every right claim is RIGHT with no diagnosis, zero claims included; and each
mistake family appears at least five times."""
from __future__ import annotations

import re
import sys
import time
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

import matcalc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from claim_gallery import RIGHT, WRONG

EXACT_RATE = 0.90
FAMILIES = ("layout", "factor", "term", "terms", "label", "bias", "upstream", "transpose",
            "structure")
SECONDS = 1.0               # processor time of one claim's check, diagnosis included


_DERIVED: dict = {}


def derivation(program: str, options: dict):
    key = (program, repr(options))
    if key not in _DERIVED:
        _DERIVED[key] = matcalc.derive(program, **options)
    return _DERIVED[key]


def verdict(program, options, claim):
    return derivation(program, options).verify_claim(claim)


@cache
def results():
    out = []
    for program, options, claim, kind, detail, _ in WRONG:
        derivation(program, options)
        start = time.process_time()
        r = verdict(program, options, claim)
        out.append((r, time.process_time() - start))
    return out


def test_each_family_appears_at_least_five_times():
    count = Counter(entry[3] for entry in WRONG)
    assert len(WRONG) >= 60
    assert {f: count[f] for f in FAMILIES if count[f] < 5} == {}
    assert set(count) <= set(FAMILIES)


def test_every_wrong_claim_is_wrong_and_90_percent_are_diagnosed_exactly():
    exact, missed = 0, []
    for (program, options, claim, kind, detail, teacher), (r, _) in zip(WRONG, results()):
        assert not r.ok and r.verdict in ("wrong", "wrong shape"), (claim, r.message)
        got = [(g.kind, g.detail) for g in r.diagnosis]
        if got[:1] == [(kind, detail)]:
            exact += 1
        else:
            missed.append((claim, (kind, detail), got))
    rate = exact / len(WRONG)
    print(f"\ndiagnosed exactly: {exact}/{len(WRONG)} = {rate:.1%}; missed: {missed}")
    assert rate >= EXACT_RATE, missed


def _with_option(options: dict, option: str) -> dict:
    flag, _, value = option.partition(" ")
    key = {"--onehot": "onehot", "--signs": "signs"}[flag]
    return {**options, key: list(options.get(key, [])) + [value]}


def _symmetric(program: str, claim: str, name: str) -> tuple[str, str]:
    """The program and the claim with the matrix `name` made symmetric by construction."""
    sym = f"(({name}sym_ + {name}sym_')/2)"
    pattern = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])")
    lhs, _, formula = claim.partition("=")
    return pattern.sub(sym, program), f"{lhs}={pattern.sub(sym, formula)}"


def test_no_claim_is_diagnosed_wrongly():
    """Each named transformation, undone independently of the diagnosis, makes it RIGHT."""
    named = 0
    for (program, options, claim, *_), (r, _) in zip(WRONG, results()):
        for g in r.diagnosis:
            named += 1
            if g.fixed:
                fixed = verdict(program, options, g.fixed)
                assert fixed.ok, (claim, g.message, fixed.message)
            if g.option.startswith(("--onehot", "--signs")):
                d = matcalc.derive(program, **_with_option(options, g.option))
                assert d.verify_claim(claim).ok, (claim, g.option)
            elif g.option.startswith("--assume"):
                name = g.option.split()[1].split("=")[0]
                program2, claim2 = _symmetric(program, claim, name)
                d = matcalc.derive(program2, **options)
                assert d.verify_claim(claim2).ok, (claim, claim2, g.option)
            assert g.fixed or g.option, g
    assert named >= len(WRONG) * 0.9


def test_the_symmetric_matrix_check_is_not_vacuous():
    # x = 2*A*x is WRONG in general, and RIGHT once A is symmetric by construction
    program, claim = _symmetric("x'*A*x", "x = 2*A*x", "A")
    assert not matcalc.derive("x'*A*x").verify_claim("x = 2*A*x").ok
    assert matcalc.derive(program).verify_claim(claim).ok


@pytest.mark.parametrize("program, options, claim", RIGHT)
def test_every_right_claim_is_right_without_a_diagnosis(program, options, claim):
    r = verdict(program, options, claim)
    assert r.ok and r.verdict == "right" and r.diagnosis == (), r.message


def test_a_claim_with_its_diagnosis_is_checked_well_within_a_second():
    times = [t for _, t in results()]
    print(f"\nprocessor time per claim: max {max(times):.3f} s, "
          f"mean {sum(times) / len(times):.3f} s over {len(times)} claims")
    assert max(times) < SECONDS
