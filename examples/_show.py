"""Shared printing for the examples: the derivation with its steps, its check, claims."""
import matcalc


def show(title, program, claims=(), **options):
    """Derive `program`, print the formulas (with steps), the finite-difference check and
    the verdict on each claimed hand derivation; return the Derivation."""
    print(f"== {title}")
    print(program.strip())
    d = matcalc.derive(program, **options)
    print(d.text(steps=True))
    report = d.check()
    print("check:", "all ok" if report.ok else "FAILED")
    print(report.summary())
    for claim in claims:
        print(d.verify_claim(claim).message)
    print()
    assert report.ok, report.summary()
    return d
