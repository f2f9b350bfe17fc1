"""The rewrite table: every algebraic identity matcalc rewrites by, one case per rewrite.

Each case is an equation read left to right, its algebra in the comment above it (the
machinery is `matcalc.patterns`): a pattern, the right-hand side built from the names it
binds, the side condition under which the identity holds (`when`) and, apart from the
equation, a rule set's preferences (`only`, `keep`). The cases are grouped in named rule
sets, each read by one caller, and the rule sets in a module per family:

- `display.py`: `CANONICAL`, the display form, the simplifier's identities per node kind
  (`matcalc.simplify` is the engine: it brings a node's operands to canonical form first,
  keeps like terms and monomials collected, and normalises what a right-hand side built);
  `CHAIN`: identities of two adjacent factors of a product chain (and of a whole chain);
  `FACTORS`: identities of the factors of a monomial (the logistic function);
- `transpose.py`: `TRANSPOSE`, how a transpose moves one level down, read by
  `push_transpose`, the one transpose pusher (the display form takes these where they
  remove transposes);
- `code_forms.py`: `STABLE_FORMS` (three passes, `stable_forms`), the forms generated code
  computes stably (log softmax through logsumexp, the logistic function by name), and
  `MEET`, transposes that cancel where they meet;
- `higher.py`: `EXPANDED`, `PAIRED`, `DIAGONALS`, the display of Jacobians and Hessians
  (products multiplied out where that is no larger, a term beside its transpose,
  diagonals collected);
- `assumed.py`: `ASSUMED`, what the user assumes of a variable (one-hot labels, signs).

`vocabulary.py` is what they share: the names patterns bind, the tests of side conditions,
and the one recogniser of `1 + exp(u)` and of `1 - sigmoid(u)`. Callers import from the
package, `matcalc.rewrites`.

A new identity is one case in the module of the rule set whose caller should apply it,
and one line in tests/test_rewrites.py, which checks every case on a literal example,
before and after, by evaluating both numerically.
"""
from __future__ import annotations

from ..patterns import Rewrite, RuleSet
from .assumed import ASSUMED
from .code_forms import MEET, STABLE_FORMS, stable_forms, strip_transposes, sum_of_arguments, tr
from .display import CANONICAL, CHAIN, FACTORS, WHOLE_CHAIN
from .higher import DIAGONALS, EXPANDED, PAIRED
from .transpose import TRANSPOSE, push_transpose
from .vocabulary import (
    MINUS_ONE,
    ONE,
    ONE_MINUS_SIGMOID,
    ONE_PLUS_EXP,
    ZERO,
    column,
    dim_value,
    is_zero,
    matched,
    matrix,
    one_minus_sigmoid,
    one_plus_exp,
    ones,
    row,
    scalar,
    split_scale,
    swapped,
    symmetric,
    zero,
)

RULE_SETS = (CANONICAL, CHAIN, WHOLE_CHAIN, FACTORS, TRANSPOSE, *STABLE_FORMS, MEET,
             EXPANDED, PAIRED, DIAGONALS, ASSUMED)

__all__ = ["ASSUMED", "CANONICAL", "CHAIN", "DIAGONALS", "EXPANDED", "FACTORS", "MEET",
           "MINUS_ONE", "ONE", "ONE_MINUS_SIGMOID", "ONE_PLUS_EXP", "PAIRED", "RULE_SETS",
           "STABLE_FORMS", "TRANSPOSE", "WHOLE_CHAIN", "ZERO", "Rewrite", "RuleSet", "column",
           "dim_value", "is_zero", "matched", "matrix", "one_minus_sigmoid", "one_plus_exp",
           "ones", "push_transpose", "row", "scalar", "split_scale", "stable_forms",
           "strip_transposes", "sum_of_arguments", "swapped", "symmetric", "tr", "zero"]
