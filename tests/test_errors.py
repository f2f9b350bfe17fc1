"""The error gallery: bad inputs and the exact message each one gets.

Every user error is a `MatcalcError` rendered in one place (`render()`): `line L, column C:
message`, the source line, carets under the offending span, then a hint in the user's
words. Each entry here is a bad input with its exact rendering.
"""
import subprocess
import sys

import pytest
from click.testing import CliRunner

import matcalc
from matcalc.cli.main import cli
from matcalc.errors import MatcalcError


def E(program, *lines, **options):
    """A gallery entry: `program` derived with `options` fails with exactly `lines`."""
    name = program if len(program) <= 30 else program[:27] + "..."
    if options:
        name += " [" + ",".join(f"{k}={v}" for k, v in options.items()) + "]"
    return pytest.param(program, options, "\n".join(lines), id=name)


GALLERY = [
    # ---- syntax ----------------------------------------------------------------------------
    E('y = x +',
      'line 1, column 8: unexpected end of input: expected an expression',
      '  y = x +',
      '         ^'),
    E('x + * y',
      "line 1, column 5: unexpected '*': expected an expression",
      '  x + * y',
      '      ^'),
    E('(x + y',
      "line 1, column 1: unbalanced parenthesis: '(' is never closed",
      '  (x + y',
      '  ^',
      "add the missing ')'"),
    E('x + y)',
      "line 1, column 6: unexpected ')'",
      '  x + y)',
      '       ^',
      "there is no '(' for it to close"),
    E('',
      'empty input: nothing to derive'),
    E('  # only a comment\n',
      'empty input: nothing to derive'),
    E('x ** 2',
      "line 1, column 4: unexpected '*': expected an expression",
      '  x ** 2',
      '     ^',
      "'**' is not an operator: write ^ for a power (x^2)"),
    # a product may be implicit (A x, x'A, 2x), but not a number after an operand
    E("x'2",
      'line 1, column 3: missing operator between "x\'" and \'2\'',
      "  x'2",
      '    ^',
      "put an operator between them, e.g. '*' for a product"),
    E('1/2x',
      "line 1, column 3: '/2x' is ambiguous: 2x may be the divisor, or x a factor after the division",
      '  1/2x',
      '    ^^',
      'write /(2*x) to divide by the product, or /2*x to multiply the quotient'),
    E('a = b = c',
      "line 1, column 7: unexpected '='",
      '  a = b = c',
      '        ^',
      "a statement is `name = expression`; separate statements with ';' or new lines"),
    E('f = sum(x,)',
      "line 1, column 11: unexpected ')': expected an expression",
      '  f = sum(x,)',
      '            ^'),
    E('x $ y',
      "line 1, column 3: unexpected character '$'",
      '  x $ y',
      '    ^'),
    # a Greek letter is a name (α is alpha), but other letters are not
    E('ℓ*x',
      "line 1, column 1: unexpected character 'ℓ'",
      '  ℓ*x',
      '  ^',
      "names are made of ASCII letters, digits and '_'"),
    E('x < y',
      "line 1, column 3: unexpected character '<'",
      '  x < y',
      '    ^',
      "only '>' is a comparison: write b > a"),
    E('a > b > c',
      "line 1, column 7: unexpected '>'",
      '  a > b > c',
      '        ^',
      'comparisons do not chain; add parentheses'),
    E('y = x\nz = y +\nw = z',
      'line 2, column 8: unexpected end of line: expected an expression',
      '  z = y +',
      '         ^'),
    E('x.y',
      "line 1, column 2: unexpected '.y'",
      '  x.y',
      '   ^^',
      "'.' starts .* ./ .^ or a transpose .T (which no letter, digit or '_' may follow)"),
    E('2*x\nf = sum(x)',
      'line 1, column 1: a bare expression must be the last statement',
      '  2*x',
      '  ^^^',
      'give it a name (t = ...) to use it in a later statement'),
    E('1e999*x',
      'line 1, column 1: number out of range: 1e999',
      '  1e999*x',
      '  ^^^^^'),
    # a combining mark shown alone would print on top of its quotes: it is named instead
    E('sum(x\u0301)',
      'line 1, column 6: unexpected character U+0301 (COMBINING ACUTE ACCENT)',
      '  sum(x\u0301)',
      '       ^',
      "names are made of ASCII letters, digits and '_'"),
    # ---- unknown functions -----------------------------------------------------------
    E('sofmax(x)',
      'line 1, column 1: unknown function sofmax',
      '  sofmax(x)',
      '  ^^^^^^',
      'did you mean softmax(x) ?'),
    E('sigmod(x)',
      'line 1, column 1: unknown function sigmod',
      '  sigmod(x)',
      '  ^^^^^^',
      'did you mean sigmoid(x) ?'),
    E('Det(A)',
      'line 1, column 1: unknown function Det',
      '  Det(A)',
      '  ^^^',
      'did you mean det(A) ?'),
    # another tool's function: answered with the exact rewrite of the call
    E('dot(A*x, y)',
      "line 1, column 1: dot is not a function of matcalc's language",
      '  dot(A*x, y)',
      '  ^^^',
      "did you mean (A*x)'*y ?"),
    E('max(0, W*x)',
      "line 1, column 1: max is not a function of matcalc's language",
      '  max(0, W*x)',
      '  ^^^',
      'did you mean relu(W*x) ?'),
    E('max(x, y)',
      "line 1, column 1: max is not a function of matcalc's language",
      '  max(x, y)',
      '  ^^^',
      'did you mean relu(x - y) + y ?'),
    E('ones(n, 1)',
      "line 1, column 1: ones is not a function of matcalc's language",
      '  ones(n, 1)',
      '  ^^^^',
      'did you mean vector(1) ?'),
    E('foo(x)',
      'line 1, column 1: unknown function foo',
      '  foo(x)',
      '  ^^^',
      'known functions: exp, log, sin, cos, tan, tanh, sigmoid, relu, abs, sign, sqrt, arcsin, arccos, arctan, sum, norm1, norm2, tr, det, logdet, inv, diag, tril, triu, softmax, logsumexp, mean, log_softmax, softplus, vector, matrix, eye'),
    # a call of a name that is no function: the product was meant
    E('W(x + b)',
      'line 1, column 1: unknown function W',
      '  W(x + b)',
      '  ^',
      'for the product write W*(x + b); the functions are exp, log, sin, cos, tan, tanh, sigmoid, relu, abs, sign, sqrt, arcsin, arccos, arctan, sum, norm1, norm2, tr, det, logdet, inv, diag, tril, triu, softmax, logsumexp, mean, log_softmax, softplus, vector, matrix, eye'),
    # ---- names used wrongly --------------------------------------------------------------
    E('exp',
      'line 1, column 1: exp is a function; call it as exp(...)',
      '  exp',
      '  ^^^'),
    E('y = 2*x; y(3)',
      'line 1, column 10: y is not a function',
      '  y = 2*x; y(3)',
      '           ^',
      'for the product write y*3'),
    E('sum = x',
      'line 1, column 1: sum is a function name and cannot be assigned',
      '  sum = x',
      '  ^^^'),
    E('a = x; a = 2*x; f = sum(a)',
      'line 1, column 8: a is assigned twice',
      '  a = x; a = 2*x; f = sum(a)',
      '         ^'),
    E('f = sum(x); x = 2',
      'line 1, column 13: x is used before it is assigned',
      '  f = sum(x); x = 2',
      '              ^',
      'it was first used at line 1, column 9; rename one of them'),
    # x cannot be both an input and the value computed from it
    E('x = 2*x',
      'line 1, column 1: x is used before it is assigned',
      '  x = 2*x',
      '  ^',
      'it was first used at line 1, column 7; rename one of them'),
    E('N = 2; f = sum(X)',
      'line 1, column 1: N is a dimension symbol and cannot be assigned',
      '  N = 2; f = sum(X)',
      '  ^', shapes={'X': 'N,n'}),
    # ---- shapes: products, sums with broadcasting, elementwise ops, functions -------------
    E("Y = X*A + b'",
      'line 1, column 5: cannot multiply X (N x n) by A (m x n)',
      "  Y = X*A + b'",
      '      ^^^',
      "the inner dimensions n and m differ; did you mean X*A' ?", shapes={'X': 'N,n', 'A': 'm,n'}),
    E('X*Y',
      'line 1, column 1: cannot multiply X (N x n) by Y (N x n)',
      '  X*Y',
      '  ^^^',
      "the inner dimensions n and N differ; did you mean X*Y' ?",
      'for an elementwise product of same-shaped matrices use .*', shapes={'X': 'N,n', 'Y': 'N,n'}),
    E('c*x + x*c',
      'line 1, column 1: cannot multiply c (n x 1) by x (m x 1)',
      '  c*x + x*c',
      '  ^^^',
      'the inner dimensions 1 and m differ',
      'c is a vector by its name; if it is a scalar, declare --shape c=scalar'),
    E('A*x',
      'line 1, column 1: cannot multiply A (m x n) by x (m x 1)',
      '  A*x',
      '  ^^^',
      "the inner dimensions n and m differ; did you mean A'*x ?", shapes={'A': 'm,n', 'x': 'm'}),
    E("x'*y",
      "line 1, column 1: cannot multiply x' (1 x n) by y (m x 1)",
      "  x'*y",
      '  ^^^^',
      'the inner dimensions n and m differ', shapes={'x': 'n', 'y': 'm'}),
    # a transpose, not a scalar declaration, is the likely fix for a matrix
    E("sum(X*y')",
      "line 1, column 5: cannot multiply X (n x m) by y' (1 x p)",
      "  sum(X*y')",
      '      ^^^^',
      'the inner dimensions m and 1 differ; did you mean X*y ?'),
    # an operand is quoted without its comment and new line, with its parentheses
    E("f = sum((x # the input\n + x) * y)",
      "line 1, column 9: cannot multiply (x + x) (n x 1) by y (m x 1)",
      "  f = sum((x # the input",
      "          ^^^^^^^^^^^^^^",
      "the inner dimensions 1 and m differ",
      "y is a vector by its name; if it is a scalar, declare --shape y=scalar"),
    E("A + B'",
      "line 1, column 1: cannot add A (N x n) and B' (n x N)",
      "  A + B'",
      '  ^^^^^^',
      'did you mean B ?', shapes={'A': 'N,n', 'B': 'N,n'}),
    E("X + b'",
      "line 1, column 1: cannot add X (N x n) and b' (1 x m)",
      "  X + b'",
      '  ^^^^^^', shapes={'X': 'N,n', 'b': 'm'}),
    E('X .* Y',
      'line 1, column 1: cannot multiply elementwise X (N x n) and Y (n x N)',
      '  X .* Y',
      '  ^^^^^^',
      "did you mean Y' ?", shapes={'X': 'N,n', 'Y': 'n,N'}),
    E('X ./ Y',
      'line 1, column 1: cannot divide elementwise X (N x n) and Y (m x n)',
      '  X ./ Y',
      '  ^^^^^^', shapes={'X': 'N,n', 'Y': 'm,n'}),
    E('X - Y',
      'line 1, column 1: cannot subtract X (N x n) and Y (m x p)',
      '  X - Y',
      '  ^^^^^', shapes={'X': 'N,n', 'Y': 'm,p'}),
    E("A > B'",
      "line 1, column 1: cannot compare A (N x n) and B' (n x N)",
      "  A > B'",
      '  ^^^^^^',
      'did you mean B ?', shapes={'A': 'N,n', 'B': 'N,n'}),
    E('tr(X)',
      'line 1, column 1: tr needs a square matrix, but X (N x n) is not square',
      '  tr(X)',
      '  ^^^^^', shapes={'X': 'N,n'}),
    E("det(x')",
      "line 1, column 1: det needs a square matrix, but x' (1 x n) is not square",
      "  det(x')",
      '  ^^^^^^^'),
    E('inv(X)',
      'line 1, column 1: inv needs a square matrix, but X (N x n) is not square',
      '  inv(X)',
      '  ^^^^^^', shapes={'X': 'N,n'}),
    E('logdet(X)',
      'line 1, column 1: logdet needs a square matrix, but X (N x n) is not square',
      '  logdet(X)',
      '  ^^^^^^^^^', shapes={'X': 'N,n'}),
    E("diag(x')",
      "line 1, column 1: diag needs a column vector or a square matrix, not the row vector x' (1 x n)",
      "  diag(x')",
      '  ^^^^^^^^',
      'did you mean diag(x) ?'),
    E('diag(alpha)',
      'line 1, column 1: diag needs a column vector or a square matrix, not the scalar alpha',
      '  diag(alpha)',
      '  ^^^^^^^^^^^'),
    E('diag(X)',
      'line 1, column 1: diag of a matrix needs a square matrix, but X (N x n) is not square',
      '  diag(X)',
      '  ^^^^^^^', shapes={'X': 'N,n'}),
    E('A^2',
      'line 1, column 1: cannot raise A to the power 2 with ^: A (N x n) is not square',
      '  A^2',
      '  ^^^',
      'for the elementwise power write A.^2', shapes={'A': 'N,n'}),
    E('A^0.5',
      'line 1, column 1: cannot raise A to the power 0.5 with ^: a matrix power needs an integer exponent, not 0.5',
      '  A^0.5',
      '  ^^^^^',
      'for the elementwise power write A.^0.5'),
    E('x^2',
      'line 1, column 1: cannot raise the vector x (n x 1) to a power with ^: ^ raises a scalar or a square matrix',
      '  x^2',
      '  ^^^',
      "write x.^2 for the elementwise power, or x'*x for the squared norm"),
    E('alpha^x',
      'line 1, column 7: the exponent x must be a scalar, not n x 1',
      '  alpha^x',
      '        ^',
      'for the elementwise power write alpha.^x'),
    E('A / B',
      "line 1, column 1: cannot divide A (n x m) by B (p x q): '/' divides by a scalar",
      '  A / B',
      '  ^^^^^',
      'for elementwise division use ./',
      'B is a matrix by its name; if it counts the rows of A, name that dimension: --shape A=B,n (then B is that number); if it is a scalar variable, declare --shape B=scalar'),
    # a name inside the denominator: m is the sample count of the notes, a dimension
    E('J = sum((X*theta - y).^2)/(2*m)',
      "line 1, column 5: cannot divide sum((X*theta - y).^2) (scalar) by 2*m (n x 1): "
      "'/' divides by a scalar",
      '  J = sum((X*theta - y).^2)/(2*m)',
      '      ^^^^^^^^^^^^^^^^^^^^^^^^^^^',
      'for elementwise division use ./',
      'm is a vector by its name; if it counts the rows of X, name that dimension: --shape X=m,n (then m is that number); if it is a scalar variable, declare --shape m=scalar'),
    # a divisor of numbers alone that is zero: no derivative exists anywhere
    E('f = alpha/0',
      'line 1, column 11: division by zero',
      '  f = alpha/0',
      '            ^'),
    E('f = tanh(alpha/(0.5 - 0.5))',
      'line 1, column 17: division by zero: (0.5 - 0.5) is 0',
      '  f = tanh(alpha/(0.5 - 0.5))',
      '                  ^^^^^^^^^'),
    E("f = a'*inv(0)*b",
      'line 1, column 12: the inverse of zero',
      "  f = a'*inv(0)*b",
      '             ^'),
    E('f = tr(inv(2 - 2)*A)',
      'line 1, column 12: the inverse of zero: (2 - 2) is 0',
      '  f = tr(inv(2 - 2)*A)',
      '             ^^^^^'),
    # a divisor folded beyond double precision points at itself
    E('x/(1e300*1e300)',
      'line 1, column 4: a constant of this program is out of the range of double precision '
      '(about 1.8e308)',
      '  x/(1e300*1e300)',
      '     ^^^^^^^^^^^'),
    E('alpha / x',
      "line 1, column 1: cannot divide alpha (scalar) by x (n x 1): '/' divides by a scalar",
      '  alpha / x',
      '  ^^^^^^^^^',
      'for elementwise division use ./',
      'x is a vector by its name; if it is a scalar, declare --shape x=scalar'),
    E('sum(x, y)',
      'line 1, column 8: the dimension of sum(..., dim) is 1 or 2, not y',
      '  sum(x, y)',
      '         ^',
      "sum(X, 1) works down each column, sum(X, 2) along each row (MATLAB's numbering)"),
    E('sum(x, 1, 2)',
      'line 1, column 1: sum takes one argument (and a dimension: sum(X, 1) down each column, sum(X, 2) along each row), got 3',
      '  sum(x, 1, 2)',
      '  ^^^^^^^^^^^^'),
    E('eye(3)',
      'line 1, column 1: eye takes no arguments, got 1',
      '  eye(3)',
      '  ^^^^^^',
      'its size is inferred: write eye'),
    E('tr()',
      'line 1, column 1: tr takes one argument, got 0',
      '  tr()',
      '  ^^^^'),
    E("softmax(x')",
      "line 1, column 1: softmax works on a column vector or on each column of a matrix; x' (1 x n) is a row vector",
      "  softmax(x')",
      '  ^^^^^^^^^^^',
      "did you mean softmax(x)' ?"),
    E("logsumexp(x')",
      "line 1, column 1: logsumexp works on a column vector or on each column of a matrix; x' (1 x n) is a row vector",
      "  logsumexp(x')",
      '  ^^^^^^^^^^^^^',
      'did you mean logsumexp(x) ?'),
    E('vector(x)',
      'line 1, column 1: vector(c) needs a scalar c, not x (n x 1)',
      '  vector(x)',
      '  ^^^^^^^^^'),
    # ---- options: declarations, layout, kinds, mode, --wrt -------------------------------
    E('x',
      "bad --shape 'x=n,m,p': expected one or two dimensions (b=m, X=N,n, r=1,m) or 'scalar'", shapes={'x': 'n,m,p'}),
    E('x',
      "bad --shape 'x=0': a dimension must be positive", shapes={'x': '0'}),
    E('x',
      "bad --shape '1x=n': '1x' is not a name", shapes={'1x': 'n'}),
    E('x',
      '--shape declares y, which the program does not use', shapes={'y': 'n'}),
    E("f = x'*A*x",
      "line 1, column 5: cannot multiply x' (1 x n) by A (m x n)",
      "  f = x'*A*x",
      '      ^^^^',
      "the inner dimensions n and m differ; did you mean x'*A' ?", shapes={'x': 'n', 'A': 'm,n'}),
    E('sum(x)',
      "unknown layout 'row': expected numerator, denominator or mixed", layout='row'),
    E('sum(x)',
      "unknown --kinds 'xy': expected ml or mc", kinds='xy'),
    E('sum(x)',
      "unknown mode 'grad': expected one of gradient, jacobian, hessian, hvp", mode='grad'),
    E('sum(x)',
      '--wrt y: the program has no variable y; its variables are x', wrt=['y']),
    E('a = 2*x; f = sum(a)',
      '--wrt a: a is an intermediate, not an input variable', wrt=['a']),
    E('X*x',
      '--hessian needs a scalar output, and y is n x 1; use --jacobian for the derivative of a non-scalar output', mode='hessian'),
    E('sum(x)',
      '--onehot y: the program has no variable y', onehot=['y']),
]


def test_the_gallery_has_at_least_forty_entries():
    assert len(GALLERY) >= 40


@pytest.mark.parametrize("program, options, expected", GALLERY)
def test_bad_input_gets_its_exact_message(program, options, expected):
    with pytest.raises(MatcalcError) as info:
        matcalc.derive(program, **options)
    assert info.value.render() == expected


@pytest.mark.parametrize("program, options, expected", GALLERY)
def test_an_error_in_the_text_points_into_the_text(program, options, expected):
    # a message that names a line and column has a span inside the program, and the
    # source it shows is the program's own
    with pytest.raises(MatcalcError) as info:
        matcalc.derive(program, **options)
    err = info.value
    if expected.startswith("line "):
        assert err.span is not None
        assert 0 <= err.span.start <= err.span.end <= len(program)
        assert err.source == program


def test_nesting_beyond_the_limit_is_refused_at_the_first_level_too_deep():
    program = "(" * 201 + "x" + ")" * 201
    with pytest.raises(MatcalcError) as info:
        matcalc.derive(program)
    assert info.value.render() == "\n".join([
        ("line 1, column 201: nesting too deep: more than 200 levels of parentheses, "
         "calls, signs or powers"),
        # a long line is shown as a window around the span, elided with "..."
        "  ..." + "(" * 34 + "x" + ")" * 65 + "...",
        "  " + " " * 36 + "^",
        "split the expression into named steps: t = ...; y = ...",
    ])


def test_an_error_on_a_later_line_shows_that_line_only():
    with pytest.raises(MatcalcError) as info:
        matcalc.derive("h = W*x\nf = sum(h) + x*x\ng = f")
    assert info.value.render().split("\n") == [
        "line 2, column 14: cannot multiply x (n x 1) by x (n x 1)",
        "  f = sum(h) + x*x",
        "               ^^^",
        "the inner dimensions 1 and n differ",
        "x is a vector by its name; if it is a scalar, declare --shape x=scalar",
        "for an elementwise product of same-shaped matrices use .*",
    ]


# ---- the command line: exit status 2, the message on stderr, never a traceback ----------

def run(*args, input=None):
    return CliRunner().invoke(cli, list(args), input=input)


CLI_CASES = [
    (["derive", "X*A", "--shape", "X=N,n", "--shape", "A=m,n"], None,
     ("error: line 1, column 1: cannot multiply X (N x n) by A (m x n)\n"
     "  X*A\n"
     "  ^^^\n"
     "the inner dimensions n and m differ; did you mean X*A' ?\n")),
    (["derive", "y = x +", "--format", "json"], None,
     ("error: line 1, column 8: unexpected end of input: expected an expression\n"
     "  y = x +\n"
     "         ^\n")),
    (["derive", "sofmax(x)"], None,
     ("error: line 1, column 1: unknown function sofmax\n"
     "  sofmax(x)\n"
     "  ^^^^^^\n"
     "did you mean softmax(x) ?\n")),
    (["derive", ""], None, "error: empty input: nothing to derive\n"),
    (["derive", "x", "--shape", "x=n,m,p"], None,
     ("error: bad --shape 'x=n,m,p': expected one or two dimensions (b=m, X=N,n, r=1,m) "
     "or 'scalar'\n")),
    (["derive", "sum(x)", "--wrt", "y"], None,
     "error: --wrt y: the program has no variable y; its variables are x\n"),
    (["check", "x'*A*x", "--no-check", "--claim", "x ="], None,
     "error: bad claim 'x =': the formula after '=' is empty\n"),
    (["derive", "-"], b"\xff\xfe x", "error: cannot read standard input: it is not UTF-8 text\n"),
    (["derive", "@/nonexistent/matcalc/program.txt"], None,
     "error: cannot read /nonexistent/matcalc/program.txt: No such file or directory\n"),
    (["codegen", "c*x + x*c"], None,
     ("error: line 1, column 1: cannot multiply c (n x 1) by x (m x 1)\n"
     "  c*x + x*c\n"
     "  ^^^\n"
     "the inner dimensions 1 and m differ\n"
     "c is a vector by its name; if it is a scalar, declare --shape c=scalar\n")),
]


@pytest.mark.parametrize("args, stdin, stderr", CLI_CASES, ids=[c[0][1][:20] for c in CLI_CASES])
def test_cli_user_error_exits_2_with_the_message_on_stderr(args, stdin, stderr):
    result = run(*args, input=stdin)
    assert result.exit_code == 2
    assert result.stderr == stderr
    assert result.stdout == ""
    assert "Traceback" not in result.output


def test_cli_bad_option_values_are_usage_errors_with_exit_2():
    result = run("derive", "sum(x)", "--layout", "row")
    assert result.exit_code == 2
    assert "Invalid value for '--layout'" in result.stderr
    assert "Traceback" not in result.output


def test_cli_refuses_to_overwrite_a_file_it_did_not_generate(tmp_path):
    target = tmp_path / "mine.py"
    target.write_text("print('my own code')\n")
    result = run("codegen", "sum(x)", "--no-check", "-o", str(target))
    assert result.exit_code == 2
    assert result.stderr == (f"error: {target} exists and was not generated by matcalc\n"
                             "use --force to overwrite it\n")
    assert target.read_text() == "print('my own code')\n"


# Inputs the fuzzer found: in a fresh process, each ends in a result or a user error
# (exit 0 or 2) within seconds, never an internal error (exit 3) or a traceback.
PROCESS_CASES = [
    ["derive", "sofmax(x)"],
    ["derive", "(" * 300 + "x" + ")" * 300],
    ["codegen", "2", "--no-check"],
    ["codegen", "vector(10)", "--no-check"],
    ["derive", "2^9999999999*alpha", "--no-check"],
]


@pytest.mark.parametrize("args", PROCESS_CASES, ids=[a[1][:20] for a in PROCESS_CASES])
def test_cli_in_a_fresh_process_never_shows_a_traceback(args):
    try:
        proc = subprocess.run([sys.executable, "-m", "matcalc", *args], capture_output=True,
                              text=True, timeout=20, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"matcalc {' '.join(args)[:60]} still running after 20 s", pytrace=False)
    assert proc.returncode in (0, 2), proc.stderr
    assert "Traceback" not in proc.stderr
    assert "internal error" not in proc.stderr
    if proc.returncode == 2:
        assert proc.stderr.startswith("error: ")
