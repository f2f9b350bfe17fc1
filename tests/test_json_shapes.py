"""The JSON `shape` of every derivative is the shape of the array its `numpy` field returns.

SPEC section 4: in NumPy values a vector is a 1-D array unless it was declared with an
explicit 1 (`n,1` or `1,n`), which keeps it 2-D; JSON shapes are `[]`, `[n]`, `[1, n]`,
`[p, q]`. So a derivative with respect to `r` declared `1,n` is an (n, 1) array in the
numerator layout, and its JSON shape reads `[n, 1]`, not `[n]`. Checked on the whole
corpus and on programs with explicit 1s, in every layout: the inputs made at the JSON
`inputs` shapes, the `numpy` field evaluated, its np.shape compared.
"""
import numpy as np
import pytest
from test_corpus import CORPUS

import matcalc

LAYOUTS = ("denominator", "numerator", "mixed")

# explicit 1s: rows and columns that stay 2-D, in and out
EXPLICIT = [
    ("r*A*r'", {"r": "1,n"}, {}, "ml"),
    ("sum(r*A)", {"r": "1,n"}, {}, "ml"),
    ("y = r*A", {"r": "1,n"}, {}, "ml"),
    ("y = A*c", {"c": "n,1"}, {}, "ml"),
    ("c'*A*c", {"c": "n,1"}, {}, "ml"),
    ("Y = c*r", {"c": "m,1", "r": "1,n"}, {}, "ml"),
    ("r*x + alpha*sum(c)", {"r": "1,n", "c": "m,1"}, {}, "ml"),
    ("h = relu(W*c); f = sum(h)", {"c": "n,1"}, {}, "ml"),
    ("norm2(r - x')^2", {"r": "1,n"}, {}, "ml"),
]


def _sizes(shapes, fixed) -> dict:
    sizes = dict(fixed)
    for shape in shapes:
        for dim in shape:
            if isinstance(dim, str) and dim not in sizes:
                sizes[dim] = 2 + len(sizes)
    return sizes


def _declared_2d(shape: list) -> bool:
    """A variable that SPEC 4 keeps 2-D: its JSON input shape has two entries, one a 1 (a
    row vector comes only from `--shape r=1,n`; a column reads [n] unless declared n,1)."""
    return len(shape) == 2 and 1 in shape


def numpy_shape(shape: list, two_d: bool, sizes: dict) -> tuple:
    """The NumPy shape that SPEC 4 gives a value of JSON `shape`: [] 0-d, [n] and [1, n]
    1-D (vectors are 1-D arrays, row or column), unless kept 2-D; [p, q] as it is."""
    dims = tuple(sizes.get(s, s) for s in shape)
    if len(dims) == 2 and 1 in shape and not two_d:
        return (dims[1] if shape[0] == 1 else dims[0],)
    return dims


def _check(program, shapes, fixed, kinds, layout) -> list[str]:
    d = matcalc.derive(program, shapes=shapes or None, kinds=kinds, layout=layout)
    j = d.to_json()
    named = dict(j["inputs"])
    if j["upstream"] is not None:
        named[j["upstream"]["name"]] = j["upstream"]["shape"]
    sizes = _sizes(list(named.values()) + [v["shape"] for v in j["derivatives"].values()],
                   fixed)
    rng = np.random.default_rng(0)
    py = j.get("python_names", {})
    # inputs as SPEC 4 has them; the upstream gradient 1-D when it is a vector (it is
    # never declared)
    env = {py.get(n, n): rng.standard_normal(numpy_shape(shape, n in j["inputs"] and
                                                         _declared_2d(shape), sizes)) + 3.0
           for n, shape in named.items()}
    wrong = []
    for name, deriv in j["derivatives"].items():
        with np.errstate(all="ignore"):
            value = eval(deriv["numpy"], {"np": np}, dict(env))
        want = numpy_shape(deriv["shape"], two_d=_declared_2d(j["inputs"][name]), sizes=sizes)
        if np.shape(value) != want:
            wrong.append(f"{layout} d/d{name}: JSON {deriv['shape']} = {want}, "
                         f"numpy {np.shape(value)}")
    return wrong


@pytest.mark.parametrize("layout", LAYOUTS)
def test_json_shapes_are_the_numpy_shapes_on_the_whole_corpus(layout):
    wrong = []
    for program, shapes, fixed, kinds in CORPUS:
        wrong += [f"{program}: {w}" for w in _check(program, shapes, fixed, kinds, layout)]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("program,shapes,fixed,kinds", EXPLICIT, ids=[e[0] for e in EXPLICIT])
def test_json_shapes_of_explicit_ones_stay_two_dimensional(program, shapes, fixed, kinds,
                                                          layout):
    assert _check(program, shapes, fixed, kinds, layout) == []


def test_a_row_vector_derivative_in_the_numerator_layout_reads_n_by_1():
    # d(r A r')/dr is (n, 1) in numerator layout: SPEC 4 keeps the declared row 2-D
    d = matcalc.derive("r*A*r'", shapes={"r": "1,n"}, layout="numerator").to_json()
    assert d["inputs"]["r"] == [1, "n"]
    assert d["derivatives"]["r"]["shape"] == ["n", 1]
    col = matcalc.derive("c'*A*c", shapes={"c": "n,1"}).to_json()
    assert col["inputs"]["c"] == ["n", 1] and col["derivatives"]["c"]["shape"] == ["n", 1]
