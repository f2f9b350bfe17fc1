"""Structured programs against an independent oracle (issue 17, "what it must show").

Each program is written twice: in matcalc's language, and as a NumPy function in this file.
The oracle differentiates the NumPy function entry by entry with central finite
differences (fourth order), moving the independent entries of a structured variable:
for a symmetric S, S_ij and S_ji together by the same amount (the derivative with respect
to the independent entries, the `entries` convention, Matrix Cookbook 2.8); the projected
gradient (G + G')/2 is that with its off-diagonal entries halved (Srinivasan & Panda 2019,
arXiv:1911.06491). A diagonal matrix moves its diagonal only, a triangular one its
triangle; for those both conventions agree. matcalc's formulas are evaluated from their
NumPy spelling (`Derivative.numpy`), at values drawn here, and each derivation is also
verified by matcalc's own checker, which moves structured variables along structured
directions.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

import matcalc

inv = np.linalg.inv
N_ROWS, N = 3, 4                       # n (square sizes) and N (samples)


def logdet(m):
    sign, value = np.linalg.slogdet(m)
    assert sign > 0
    return value


@dataclass
class Case:
    program: str
    assume: dict
    f: object                          # the same function, in NumPy, of a dict of arrays
    shapes: dict = field(default_factory=dict)
    wrt: list | None = None

    @property
    def id(self) -> str:
        kinds = ",".join(f"{k}={v}" for k, v in self.assume.items())
        return f"{self.program} [{kinds}]"


def t(v):
    return np.trace(v)


CASES = [
    # quadratic and bilinear forms, trace forms, norms: symmetric S
    Case("x'*S*x", {"S": "symmetric"}, lambda v: v["x"] @ v["S"] @ v["x"]),
    Case("x'*S*y", {"S": "symmetric"}, lambda v: v["x"] @ v["S"] @ v["y"]),
    Case("x'*S'*x + tr(S'*A)", {"S": "symmetric"},
         lambda v: v["x"] @ v["S"].T @ v["x"] + t(v["S"].T @ v["A"])),
    Case("tr(A*S)", {"S": "symmetric"}, lambda v: t(v["A"] @ v["S"])),
    Case("tr(S*A*S)", {"S": "symmetric"}, lambda v: t(v["S"] @ v["A"] @ v["S"])),
    Case("tr(S*S)", {"S": "symmetric"}, lambda v: t(v["S"] @ v["S"])),
    Case("tr(A'*S*A)", {"S": "symmetric"}, lambda v: t(v["A"].T @ v["S"] @ v["A"])),
    Case("tr(S*A*S*B)", {"S": "symmetric"}, lambda v: t(v["S"] @ v["A"] @ v["S"] @ v["B"])),
    Case("norm2(S*x - y)^2", {"S": "symmetric"}, lambda v: np.sum((v["S"] @ v["x"] - v["y"]) ** 2)),
    Case("sum(exp(S*x))", {"S": "symmetric"}, lambda v: np.sum(np.exp(v["S"] @ v["x"]))),
    Case("logsumexp(S*x)", {"S": "symmetric"},
         lambda v: np.log(np.sum(np.exp(v["S"] @ v["x"])))),
    Case("sum(S.^2)", {"S": "symmetric"}, lambda v: np.sum(v["S"] ** 2)),
    Case("tr(S*C)", {"S": "symmetric", "C": "symmetric"}, lambda v: t(v["S"] @ v["C"])),
    # log det and friends: spd S
    Case("logdet(S)", {"S": "spd"}, lambda v: logdet(v["S"])),
    Case("tr(inv(S))", {"S": "spd"}, lambda v: t(inv(v["S"]))),
    Case("det(S)", {"S": "spd"}, lambda v: np.linalg.det(v["S"])),
    Case("x'*inv(S)*x", {"S": "spd"}, lambda v: v["x"] @ inv(v["S"]) @ v["x"]),
    Case("tr(inv(S)*A)", {"S": "spd"}, lambda v: t(inv(v["S"]) @ v["A"])),
    Case("x'*inv(S)*A*inv(S)*x", {"S": "spd"},
         lambda v: v["x"] @ inv(v["S"]) @ v["A"] @ inv(v["S"]) @ v["x"]),
    Case("logdet(A'*S*A + eye)", {"S": "spd"},
         lambda v: logdet(v["A"].T @ v["S"] @ v["A"] + np.eye(v["A"].shape[1]))),
    Case("sqrt((x - m)'*S*(x - m))", {"S": "spd"},
         lambda v: np.sqrt((v["x"] - v["m"]) @ v["S"] @ (v["x"] - v["m"]))),
    # Gaussian likelihoods: covariance, precision, a batch of samples
    Case("0.5*logdet(S) + 0.5*(x - m)'*inv(S)*(x - m)", {"S": "spd"},
         lambda v: 0.5 * logdet(v["S"]) + 0.5 * (v["x"] - v["m"]) @ inv(v["S"]) @ (v["x"] - v["m"])),
    Case("-0.5*logdet(P) + 0.5*(x - m)'*P*(x - m)", {"P": "spd"},
         lambda v: -0.5 * logdet(v["P"]) + 0.5 * (v["x"] - v["m"]) @ v["P"] @ (v["x"] - v["m"])),
    Case("R = X - m'; f = 0.5*N*logdet(S) + 0.5*tr(R*inv(S)*R')", {"S": "spd"},
         lambda v: 0.5 * N * logdet(v["S"]) + 0.5 * t((v["X"] - v["m"]) @ inv(v["S"])
                                                      @ (v["X"] - v["m"]).T),
         shapes={"X": "N,n"}),
    Case("0.5*(tr(inv(T)*S) - logdet(S) + logdet(T))", {"S": "spd", "T": "spd"},
         lambda v: 0.5 * (t(inv(v["T"]) @ v["S"]) - logdet(v["S"]) + logdet(v["T"]))),
    Case("tr(S*C) - logdet(S)", {"S": "spd", "C": "symmetric"},
         lambda v: t(v["S"] @ v["C"]) - logdet(v["S"])),
    # Gaussian-process marginal likelihood w.r.t. the kernel matrix (and the noise)
    Case("0.5*y'*inv(K)*y + 0.5*logdet(K)", {"K": "spd"},
         lambda v: 0.5 * v["y"] @ inv(v["K"]) @ v["y"] + 0.5 * logdet(v["K"])),
    Case("0.5*y'*inv(K + beta*eye)*y + 0.5*logdet(K + beta*eye)", {"K": "spd"},
         lambda v: 0.5 * v["y"] @ inv(v["K"] + v["beta"] * np.eye(N_ROWS)) @ v["y"]
         + 0.5 * logdet(v["K"] + v["beta"] * np.eye(N_ROWS))),
    # ridge regression with a symmetric (spd) regulariser
    Case("norm2(X*w - z)^2 + w'*R*w", {"R": "symmetric"},
         lambda v: np.sum((v["X"] @ v["w"] - v["z"]) ** 2) + v["w"] @ v["R"] @ v["w"],
         shapes={"X": "N,n", "z": "N"}),
    Case("z'*X*inv(X'*X + R)*X'*z", {"R": "spd"},
         lambda v: v["z"] @ v["X"] @ inv(v["X"].T @ v["X"] + v["R"]) @ v["X"].T @ v["z"],
         shapes={"X": "N,n", "z": "N"}),
    # diagonal matrices: preconditioners, scalings
    Case("x'*D*x", {"D": "diagonal"}, lambda v: v["x"] @ v["D"] @ v["x"]),
    Case("tr(D*A)", {"D": "diagonal"}, lambda v: t(v["D"] @ v["A"])),
    Case("logdet(D)", {"D": "diagonal"}, lambda v: logdet(v["D"])),
    Case("norm2(D*x - b)^2", {"D": "diagonal"}, lambda v: np.sum((v["D"] @ v["x"] - v["b"]) ** 2)),
    Case("0.5*x'*D*A*D*x", {"D": "diagonal"}, lambda v: 0.5 * v["x"] @ v["D"] @ v["A"] @ v["D"] @ v["x"]),
    Case("tr(D*A*D*B)", {"D": "diagonal"}, lambda v: t(v["D"] @ v["A"] @ v["D"] @ v["B"])),
    Case("x'*inv(D)*x", {"D": "diagonal"}, lambda v: v["x"] @ inv(v["D"]) @ v["x"]),
    Case("norm2(D*(A*x - b))^2", {"D": "diagonal"},
         lambda v: np.sum((v["D"] @ (v["A"] @ v["x"] - v["b"])) ** 2)),
    # triangular: a Cholesky-style S = L*L' w.r.t. L, and upper factors
    Case("x'*L*L'*x", {"L": "lower"}, lambda v: v["x"] @ v["L"] @ v["L"].T @ v["x"]),
    Case("logdet(L*L')", {"L": "lower"}, lambda v: logdet(v["L"] @ v["L"].T)),
    Case("norm2(L*L' - S)^2", {"L": "lower", "S": "symmetric"},
         lambda v: np.sum((v["L"] @ v["L"].T - v["S"]) ** 2)),
    Case("0.5*logdet(L*L') + 0.5*x'*inv(L*L')*x", {"L": "lower"},
         lambda v: 0.5 * logdet(v["L"] @ v["L"].T) + 0.5 * v["x"] @ inv(v["L"] @ v["L"].T) @ v["x"]),
    Case("tr(L*A)", {"L": "lower"}, lambda v: t(v["L"] @ v["A"])),
    Case("tr(U*A)", {"U": "upper"}, lambda v: t(v["U"] @ v["A"])),
    Case("x'*U'*U*x", {"U": "upper"}, lambda v: v["x"] @ v["U"].T @ v["U"] @ v["x"]),
    Case("norm2(U*x - y)^2", {"U": "upper"}, lambda v: np.sum((v["U"] @ v["x"] - v["y"]) ** 2)),
    Case("logdet(U'*U)", {"U": "upper"}, lambda v: logdet(v["U"].T @ v["U"])),
]


def test_at_least_forty_structured_programs():
    assert len(CASES) >= 40
    assert len({c.program for c in CASES}) == len(CASES)


# ---- the oracle ----------------------------------------------------------------------------

def draw(name: str, shape, kind: str | None, rng) -> np.ndarray:
    """Values drawn here, independently of matcalc's sampler: spd as B B'/n + I, symmetric
    as (B + B')/2, diagonal with entries in [0.5, 2], triangular with its diagonal in
    [1, 2] (well conditioned: L L' is inverted)."""
    b = rng.standard_normal(shape)
    n = shape[0]
    if kind == "spd":
        return b @ b.T / n + np.eye(n)
    if kind == "symmetric":
        return (b + b.T) / 2
    if kind == "diagonal":
        return np.diag(rng.uniform(0.5, 2.0, n))
    if kind in ("lower", "upper"):
        tri = np.tril(b) if kind == "lower" else np.triu(b)
        np.fill_diagonal(tri, rng.uniform(1.0, 2.0, n))
        return tri / 2
    if name == "beta":
        return np.array(0.5)
    return b


def independent_entries(kind: str | None, shape):
    """The entries (i, j) that move, and the entries that move with each (tied)."""
    r, c = shape
    for i in range(r):
        for j in range(c):
            if kind in ("symmetric", "spd") and i <= j:
                yield (i, j), {(i, j), (j, i)}
            elif kind == "diagonal" and i == j:
                yield (i, j), {(i, j)}
            elif kind == "lower" and i >= j or kind == "upper" and i <= j:
                yield (i, j), {(i, j)}
            elif kind is None:
                yield (i, j), {(i, j)}


def oracle_gradient(f, values: dict, name: str, kind: str | None, convention: str):
    """d f / d name entry by entry (fourth-order central differences), in `convention`."""
    x = values[name]
    shape = x.shape if x.ndim == 2 else (x.size, 1)
    out = np.zeros(shape)
    h = 1e-3 * max(1.0, float(np.abs(x).max()))
    for (i, j), tied in independent_entries(kind, shape):
        def at(s):
            moved = x.reshape(shape).copy()
            for (a, b) in tied:
                moved[a, b] += s
            return f({**values, name: moved.reshape(x.shape)})
        d = (-at(2 * h) + 8 * at(h) - 8 * at(-h) + at(-2 * h)) / (12 * h)
        for (a, b) in tied:
            out[a, b] = d
    if kind in ("symmetric", "spd") and convention == "projected":
        out = (out + np.diag(np.diag(out))) / 2          # off-diagonal entries halved
    return out.reshape(x.shape)


def values_for(case: Case, d, rng) -> dict:
    sizes = {"n": N_ROWS, "N": N}
    values = {}
    for name, var in d.inputs.items():
        for s in var.shape:                     # other dimensions: sizes of their own
            if isinstance(s, str) and s not in sizes:
                sizes[s] = 5 + len(sizes)
        r, c = (sizes.get(s, s) for s in var.shape)
        kind = case.assume.get(name)
        if (r, c) == (1, 1):
            values[name] = np.array(0.5) if name == "beta" else \
                np.array(rng.uniform(0.5, 2.0))
        elif c == 1:
            values[name] = rng.standard_normal(r)
        else:
            values[name] = draw(name, (r, c), kind, rng)
    return values


@pytest.mark.parametrize("convention", ["projected", "entries"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_structured_gradient_against_entrywise_differences(case, convention):
    shapes = {"S": "n,n", **case.shapes}
    shapes = {k: v for k, v in shapes.items() if k in case.program}
    d = matcalc.derive(case.program, assume=case.assume, convention=convention,
                       shapes=shapes, wrt=case.wrt)
    rng = np.random.default_rng(17)
    values = values_for(case, d, rng)
    for name in d:
        got = np.asarray(eval(d[name].numpy, {"np": np}, dict(values)), dtype=float)
        want = oracle_gradient(case.f, values, name, case.assume.get(name), convention)
        scale = max(1.0, float(np.abs(want).max()))
        np.testing.assert_allclose(got.reshape(want.shape), want, rtol=1e-6,
                                   atol=1e-7 * scale,
                                   err_msg=f"d/d{name} = {d[name].text} ({convention})")
    report = d.check()                     # matcalc's own check, along structured moves
    assert report.ok, report.summary()
