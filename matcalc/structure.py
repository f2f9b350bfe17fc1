"""Structured matrices: symmetric, positive definite, diagonal, triangular and orthogonal
variables.

A declaration `--assume S=symmetric` says that S lives in a linear subspace of the square
matrices (S' = S; for `spd` also x'*S*x > 0; `diagonal`; `lower` or `upper` triangular).
The derivative rules know nothing of it: they give the unconstrained gradient G, the
gradient of the formula extended to every matrix. What the user asks for is the gradient
within the structure, and there are two conventions for it (Srinivasan & Panda 2019,
"What is the gradient of a scalar function of a symmetric matrix?", arXiv:1911.06491):

- `projected` (the default): the gradient in the subspace under the Frobenius inner
  product, which is the orthogonal projection of G onto it: sym(G) = (G + G')/2 for
  symmetric and spd, diag(diag(G)) for diagonal, the triangle for triangular. It is the
  only gradient that lies in the subspace and gives <grad, E> = df[E] for every E in it;
- `entries`: the partial derivatives with respect to the independent entries, S_ij and
  S_ji moving together: G + G' - diag(diag(G)) for symmetric, the Matrix Cookbook's
  2G - diag(G) (section 2.8) when G itself is symmetric. For diagonal and triangular
  matrices the entries are independent already, and both conventions agree.

An orthogonal Q (Q'Q = I) lives on a manifold, not a subspace: its gradient is the
Riemannian one of the embedded metric, the projection of G onto the tangent space at Q,
G - Q*(Q'*G + G'*Q)/2 (Absil, Mahony & Sepulchre 2008, section 3.6.1); a linear move
Q + tV along a tangent V = Q*K (K skew) has the velocity of the curve Q*expm(t*K), so
first derivatives are checked along such moves. Its entries are not independent, so it
has no entries convention.

Both are independent of how the formula is extended off the subspace (x'*S*x and x'*S'*x
have different G but the same projection), which is why the simplifier may use S' = S
freely (`use_structure`): it changes G off the subspace only.

This module holds the symbolic and numeric forms of both conventions, so that the
derivation, the checker, the claims and code generation share one definition.
"""
from __future__ import annotations

from collections.abc import Mapping

from .expr import (
    node_memo,
    SCALAR,
    Add,
    Const,
    DiagMat,
    DiagVec,
    Func,
    Hadamard,
    Identity,
    Inv,
    MatMul,
    Node,
    Power,
    Scale,
    Transpose,
    Tril,
    Triu,
    Var,
    walk,
)
from .simplify import is_symmetric as _visibly_symmetric
from .simplify import simplify

STRUCTURES = ("symmetric", "spd", "diagonal", "lower", "upper", "orthogonal")
SYMMETRIC = frozenset({"symmetric", "spd", "diagonal"})   # the kinds with S' = S
CONVENTIONS = ("projected", "entries")
DEFAULT_CONVENTION = "projected"

_SAID = {"symmetric": "symmetric", "spd": "symmetric positive definite",
         "diagonal": "diagonal", "lower": "lower triangular", "upper": "upper triangular",
         "orthogonal": "orthogonal"}
_PROJECTION = {"symmetric": "(G + G')/2", "spd": "(G + G')/2", "diagonal": "diag(diag(G))",
               "lower": "tril(G)", "upper": "triu(G)",
               "orthogonal": "G - Q*(Q'*G + G'*Q)/2 for orthogonal Q, the Riemannian "
                             "gradient on the orthogonal group"}
MAX_ROUNDS = 6          # rounds of S' -> S and re-simplification (two suffice in practice)


def structures(labels: Mapping[str, str] | None) -> dict[str, str]:
    """The structured variables among the assumptions: name -> kind."""
    return {n: k for n, k in (labels or {}).items() if k in STRUCTURES}


# ---- the simplifier's facts: S' = S ------------------------------------------------------

def use_structure(node: Node, labels: Mapping[str, str] | None) -> Node:
    """`node`, simplified with S' = S for every symmetric S (and inv(S)' = inv(S), and any
    product or sum that is symmetric because S is), until nothing changes."""
    sym = frozenset(n for n, k in structures(labels).items() if k in SYMMETRIC)
    orth = frozenset(n for n, k in structures(labels).items() if k == "orthogonal")
    if not sym and not orth:
        return node
    for _ in range(MAX_ROUNDS):
        new = simplify(_drop_transposes(node, sym, orth))
        if new is node:
            break
        node = new
    return node


def _drop_transposes(node: Node, sym: frozenset, orth: frozenset = frozenset()) -> Node:
    memo: dict[Node, Node] = {}
    for n in walk(node):
        kids = n.children
        new = n.rebuild([memo[k] for k in kids]) if kids else n
        if isinstance(new, Transpose) and is_symmetric(new.x, sym):
            new = new.x                                           # X' = X for X = X'
        elif isinstance(new, MatMul) and orth:
            new = _cancel_orthogonal(new, orth)
        memo[n] = new
    return memo[node]


def _cancel_orthogonal(m: MatMul, orth: frozenset) -> Node:
    """Q'*Q = Q*Q' = I for a square orthogonal Q, wherever the two meet in a chain."""
    def name(f):
        return f.name if isinstance(f, Var) else None
    fs = list(m.factors)
    i = 0
    while i < len(fs) - 1:
        a, b = fs[i], fs[i + 1]
        if isinstance(a, Transpose) and name(a.x) in orth and b is a.x or \
                isinstance(b, Transpose) and name(b.x) in orth and a is b.x:
            del fs[i:i + 2]
            i = max(i - 1, 0)
        else:
            i += 1
    if len(fs) == len(m.factors):
        return m
    return MatMul(tuple(fs)) if len(fs) > 1 else fs[0] if fs else Identity(m.shape[0])


_SYMMETRIC: dict[tuple[Node, frozenset], bool] = node_memo()   # nodes are interned and
_TRANSPOSED: dict[tuple[Node, frozenset], Node] = node_memo()  # immutable


def is_symmetric(x: Node, sym: frozenset) -> bool:
    """Whether X' = X follows from the symmetric variables `sym`: S, inv(S), f(S)
    elementwise, sums and scalings of such, palindromes A*B*A' with B = B', and what the
    simplifier sees already (X'*X, A + A')."""
    key = (x, sym)
    hit = _SYMMETRIC.get(key)
    if hit is None:
        hit = _SYMMETRIC[key] = _is_symmetric(x, sym)
    return hit


def _is_symmetric(x: Node, sym: frozenset) -> bool:
    r, c = x.shape
    if r != c:
        return False
    if x.shape == SCALAR or isinstance(x, (Identity, DiagMat, Const)):
        return True
    if isinstance(x, Var):
        return x.name in sym
    if isinstance(x, (Inv, Func, Transpose)):
        return is_symmetric(x.x, sym)
    if isinstance(x, Power):
        return is_symmetric(x.x, sym)
    if isinstance(x, Scale):
        return is_symmetric(x.x, sym)
    if isinstance(x, (Add, Hadamard)):
        parts = x.terms if isinstance(x, Add) else x.factors
        if all(is_symmetric(p, sym) for p in parts):
            return True
        if isinstance(x, Add):                                    # B + B' - C - C'
            flipped = [_transposed(t, sym) for t in parts]
            if sorted(map(id, flipped)) == sorted(map(id, parts)):
                return True
    if isinstance(x, MatMul):
        fs = x.factors
        k = len(fs)
        for i in range(k // 2):                                   # (A B A')' = A B' A'
            if _transposed(fs[i], sym) is not fs[k - 1 - i]:
                break
        else:
            return k % 2 == 0 or is_symmetric(fs[k // 2], sym)
    return _visibly_symmetric(x)


def _transposed(f: Node, sym: frozenset) -> Node:
    key = (f, sym)
    hit = _TRANSPOSED.get(key)
    if hit is None:
        hit = _TRANSPOSED[key] = simplify(_drop_transposes(simplify(Transpose(f)), sym))
    return hit


# ---- the two conventions, symbolically -------------------------------------------------

def project(g: Node, kind: str, var: Node | None = None) -> Node:
    """The Frobenius projection of an n x n G onto the structure (canonical); for an
    orthogonal `var` Q, onto the tangent space at Q: G - Q*(Q'*G + G'*Q)/2."""
    if kind == "orthogonal":
        q = var
        return simplify(Add((g, Scale(Const(-0.5), MatMul((q, Add((
            MatMul((Transpose(q), g)), MatMul((Transpose(g), q))))))))))
    if kind in ("symmetric", "spd"):                            # (G + G')/2, with G'
        terms = g.terms if isinstance(g, Add) else (g,)           # term by term
        flipped = tuple(simplify(Transpose(t)) for t in terms)
        return simplify(Scale(Const(0.5), Add((*terms, *flipped))))
    if kind == "diagonal":
        return simplify(DiagMat(DiagVec(g)))                        # diag(diag(G))
    return simplify(Tril(g) if kind == "lower" else Triu(g))        # the triangle


def gradient(g: Node, kind: str, convention: str, labels=None, var: Node | None = None) -> Node:
    """The gradient with respect to a structured variable `var` of the unconstrained
    adjoint G (n x n), in `convention`, simplified under the assumptions `labels`."""
    g = use_structure(g, labels)
    p = g if kind in SYMMETRIC and is_symmetric(g, _sym(labels)) and kind != "diagonal" \
        else use_structure(project(g, kind, var), labels)
    if convention == "entries" and kind in ("symmetric", "spd"):
        # d f / d S_ij with S_ij = S_ji: G_ij + G_ji off the diagonal, G_ii on it, that is
        # 2P - diag(diag(P)), the 2 taken into P's terms
        doubled = tuple(Scale(Const(2), t) for t in (p.terms if isinstance(p, Add) else (p,)))
        return use_structure(simplify(Add((*doubled, Scale(Const(-1), DiagMat(DiagVec(p)))))),
                             labels)
    return p


def as_projected(a: Node, kind: str, convention: str) -> Node:
    """The projected gradient from a gradient `a` in `convention` (the inverse of the
    entries map: off-diagonal entries halved), for checking."""
    if convention == "entries" and kind in ("symmetric", "spd"):
        return simplify(Scale(Const(0.5), Add((a, DiagMat(DiagVec(a))))))
    return a


def alternatives(g: Node, kind: str, convention: str, labels=None,
                 var: Node | None = None) -> dict[str, Node]:
    """What else a claim about a structured variable may be: the gradient in the other
    convention (when it differs) and the unconstrained gradient G, with S' = S used."""
    other = "entries" if convention == "projected" else "projected"
    out = {}
    if kind in ("symmetric", "spd"):
        out[other] = gradient(g, kind, other, labels, var)
    out["unconstrained"] = use_structure(g, labels)
    return out


def _sym(labels) -> frozenset:
    return frozenset(n for n, k in structures(labels).items() if k in SYMMETRIC)


# ---- the two conventions, numerically ---------------------------------------------------

def project_array(g, kind: str, at=None):
    """The projection of a 2-D array onto the structure (NumPy); for an orthogonal
    variable, onto the tangent space at its value `at`."""
    import numpy as np
    if kind == "orthogonal":
        s = at.T @ g
        return g - at @ (s + s.T) / 2
    if kind in ("symmetric", "spd"):
        return (g + g.T) / 2
    if kind == "diagonal":
        return np.diag(np.diag(g))
    if kind == "lower":
        return np.tril(g)
    if kind == "upper":
        return np.triu(g)
    raise ValueError(kind)


def gradient_array(g, kind: str, convention: str, at=None):
    """The gradient in `convention` from the unconstrained gradient G (NumPy)."""
    import numpy as np
    p = project_array(g, kind, at)
    if convention == "entries" and kind in ("symmetric", "spd"):
        return 2 * p - np.diag(np.diag(p))
    return p


def pairing_array(m, kind: str, convention: str):
    """What a derivative in `convention` is paired with for a structured move m (NumPy):
    m itself for the projected gradient, m with its off-diagonal entries halved for the
    entries form A, since sum_ij A_ij m'_ij = sum_{i<=j} A_ij m_ij is the change along
    the independent entries (S_ij and S_ji moving together)."""
    import numpy as np
    if convention == "entries" and kind in ("symmetric", "spd"):
        return (m + np.diag(np.diag(m))) / 2
    return m


def convention_of(claimed, unconstrained, kind: str, rtol: float = 1e-8,
                  at=None) -> list[str]:
    """The conventions in which the array `claimed` is the gradient whose unconstrained
    gradient is the array `unconstrained`: some of "projected", "entries" and
    "unconstrained" (right only without the declaration), in that order."""
    import numpy as np
    out = []
    size = max(float(np.linalg.norm(unconstrained)), float(np.linalg.norm(claimed)), 1e-300)
    for name, want in (("projected", gradient_array(unconstrained, kind, "projected", at)),
                       ("entries", gradient_array(unconstrained, kind, "entries", at)),
                       ("unconstrained", unconstrained)):
        if float(np.linalg.norm(claimed - want)) <= rtol * size:
            out.append(name)
    return out


def values(base, kind: str, needs=frozenset()):
    """A value of the structure made from the unstructured draw `base` (square, drawn for
    the variable's domain by matcalc.sampling.draw): its projection, which keeps what the
    domain asks (the symmetric part of the SPD draw under logdet is SPD; the diagonal and
    the triangle of a well-conditioned draw I + E/n keep a diagonal near 1). An spd
    variable that nothing inverts is drawn positive definite all the same: B B'/n + s^2 I."""
    import numpy as np
    from .ops import SPD
    if kind == "orthogonal":                   # Q of a QR decomposition, det Q = +-1
        q, r = np.linalg.qr(base)
        return q * np.where(np.diag(r) < 0, -1.0, 1.0)
    if kind == "spd" and SPD not in needs:
        n = base.shape[0]
        scale = float(np.abs(base).mean()) or 1.0
        return base @ base.T / n + scale * scale * np.eye(n)     # eigenvalues >= scale^2
    return project_array(base, kind)


# ---- words --------------------------------------------------------------------------------

def said(kind: str) -> str:
    """The structure in words: `symmetric positive definite`."""
    return _SAID[kind]


def phrase(name: str, kind: str) -> str:
    """`S: symmetric positive definite`."""
    return f"{name}: {_SAID[kind]}"


def convention_line(labels: Mapping[str, str] | None, convention: str) -> str | None:
    """The header line that states the convention in force, or None without structure."""
    kinds = structures(labels)
    if not kinds:
        return None
    if set(kinds.values()) == {"orthogonal"}:
        return f"convention: projected ({_PROJECTION['orthogonal']})"
    forms = sorted({_PROJECTION[k] for k in kinds.values()})
    if convention == "entries" and not {"symmetric", "spd"} & set(kinds.values()):
        return ("convention: entries (the entries of a diagonal or triangular matrix are "
                f"independent, so this is the projected gradient: {', '.join(forms)})")
    if convention == "entries":
        return ("convention: entries (the derivative with respect to the independent "
                "entries, S_ij and S_ji together: G + G' - diag(diag(G)), Matrix Cookbook 2.8)")
    return ("convention: projected (the gradient within the structure, the Frobenius "
            f"projection of the unconstrained gradient G: {', '.join(forms)})")


def claim_note(which: str, name: str, kind: str, convention: str, correct: str) -> str:
    """Why a claim about a structured variable is not the gradient in force, in words."""
    if which == "entries":
        return (f"{name}: RIGHT IN THE ENTRIES CONVENTION (the derivative with respect to "
                f"the independent entries, Matrix Cookbook 2.8); the default here is the "
                f"symmetric gradient (G + G')/2: {name} = {correct}; rerun with "
                f"--convention entries to use yours")
    if which == "projected":
        return (f"{name}: RIGHT IN THE PROJECTED CONVENTION (the symmetric gradient "
                f"(G + G')/2, the default); with --convention entries the derivative with "
                f"respect to the independent entries is {name} = {correct}")
    where = f"tangent to the orthogonal matrices at {name}" if kind == "orthogonal" \
        else _SAID[kind]
    return (f"{name}: RIGHT ONLY WITHOUT THE DECLARATION: yours is the unconstrained "
            f"gradient G, which is not {where}; with {name} {_SAID[kind]} the "
            f"gradient ({convention} convention) is {name} = {correct}")


def validate(name: str, kind: str, var: Node, typed) -> None:
    """Raise a user error if `kind` is unknown or contradicts the shape of `name`."""
    from .errors import OptionError, ShapeError
    if kind not in STRUCTURES:
        raise OptionError(f"--assume {name}={kind}: the structure is one of "
                          f"{', '.join(STRUCTURES)}")
    if len(var.shape) != 2:                 # a tensor of order 3 or more
        r, c = var.shape[:2]
        shown = f"a tensor ({' x '.join(map(str, var.shape))})"
    else:
        r, c = var.shape
        shown = "a scalar" if (r, c) == SCALAR else \
            f"a column vector ({r} x 1)" if c == 1 else f"{r} x {c}"
    if len(var.shape) != 2 or r != c or (r, c) == SCALAR:
        hint = (f"only a square matrix can be {_SAID[kind]}, and the program (with its "
                f"--shape declarations) makes {name} {shown}; drop --assume {name}={kind}, "
                f"or change the program")
        raise ShapeError(f"--assume {name}={kind}: {name} is {shown}, not a square matrix",
                         typed.spans.get(name), None, hint)
