"""The parser: text -> AST with spans, and every syntax error in the user's words."""
import functools
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcalc.errors import LimitError, MatcalcError, ParseError, Span
from matcalc.parse import MAX_DEPTH, MAX_SOURCE_CHARS, parse
from matcalc.syntax import Binary, Call, Name, Neg, Number, Statement, Transpose

ROOT = Path(__file__).resolve().parent.parent


def show(node) -> str:
    """A compact, fully parenthesised form of an AST, to check its shape."""
    match node:
        case Number():
            return node.text
        case Name():
            return node.name
        case Neg():
            return f"(-{show(node.operand)})"
        case Transpose():
            return f"{show(node.operand)}ᵀ"
        case Binary():
            return f"({show(node.left)} {node.op} {show(node.right)})"
        case Call():
            return f"{node.func}[{', '.join(show(arg) for arg in node.args)}]"
    raise TypeError(node)


def expr(source: str):
    """The expression of a one-statement program."""
    (statement,) = parse(source).statements
    return statement.expr


def error(source: str, kind=ParseError) -> str:
    with pytest.raises(kind) as info:
        parse(source)
    assert info.value.source == source
    return info.value.render()


# --- precedence and associativity ------------------------------------------------------

@pytest.mark.parametrize("source, shape", [
    ("a+b*c", "(a + (b * c))"),
    ("a*b+c", "((a * b) + c)"),
    ("a - b - c", "((a - b) - c)"),
    ("a / b / c", "((a / b) / c)"),
    ("a*b@c./d", "(((a * b) @ c) ./ d)"),
    ("-x^2", "(-(x ^ 2))"),
    ("-x'", "(-xᵀ)"),
    ("-a*b", "((-a) * b)"),
    ("a*-b", "(a * (-b))"),
    ("a--b", "(a - (-b))"),
    ("- -x", "(-(-x))"),
    ("2^-1", "(2 ^ (-1))"),
    ("a^b^c", "(a ^ (b ^ c))"),
    ("2^x^-1", "(2 ^ (x ^ (-1)))"),
    ("x'^2", "(xᵀ ^ 2)"),
    ("a^b'", "(a ^ bᵀ)"),
    ("x'*A*y", "((xᵀ * A) * y)"),
    ("A.*B'", "(A .* Bᵀ)"),
    ("X*A' + b'", "((X * Aᵀ) + bᵀ)"),
    ("(W*x - y)'", "((W * x) - y)ᵀ"),
    ("x.T@A@x", "((xᵀ @ A) @ x)"),
    ("a*(b+c)", "(a * (b + c))"),
    ("-a > b", "((-a) > b)"),
    ("a + b > c * d", "((a + b) > (c * d))"),
    ("relu(z) .* (z > 0)", "(relu[z] .* (z > 0))"),
    ("f(x)'", "f[x]ᵀ"),
    ("-f(x)^2", "(-(f[x] ^ 2))"),
])
def test_precedence_and_associativity(source, shape):
    assert show(expr(source)) == shape


def test_unary_plus_is_its_operand():
    assert expr("+x") == Name("x", Span(1, 2))
    assert show(expr("a + +b")) == "(a + b)"


def test_comparison_does_not_chain():
    assert error("a > b > c") == (
        "line 1, column 7: unexpected '>'\n"
        "  a > b > c\n"
        "        ^\n"
        "comparisons do not chain; add parentheses")


# --- operators, aliases, transposes, numbers, calls -------------------------------------

@pytest.mark.parametrize("op", ["+", "-", "*", "@", "/", ".*", "./", "^", ".^", ">"])
def test_every_binary_operator(op):
    node = expr(f"a {op} b")
    assert node == Binary(op, Name("a", Span(0, 1)), Name("b", Span(len(op) + 3, len(op) + 4)),
                          Span(0, len(op) + 4), Span(2, 2 + len(op)))


@pytest.mark.parametrize("alias", ["⊙", "∘"])
def test_hadamard_aliases_are_normalised(alias):
    node = expr(f"A{alias}B")
    assert node.op == ".*"
    assert node.op_span == Span(1, 2)


@pytest.mark.parametrize("source", ["x'", "xᵀ", "x.T"])
def test_every_transpose(source):
    assert expr(source) == Transpose(Name("x", Span(0, 1)), Span(0, len(source)))


@pytest.mark.parametrize("source, shape", [
    ("x''", "xᵀᵀ"),
    ("A.T.T", "Aᵀᵀ"),
    ("x.T'", "xᵀᵀ"),
    ("xᵀ'", "xᵀᵀ"),
    ("(a+b)ᵀ", "(a + b)ᵀ"),
    ("A.T*x", "(Aᵀ * x)"),
    ("2.T", "2ᵀ"),
])
def test_transposes_repeat_and_combine(source, shape):
    assert show(expr(source)) == shape


def test_dot_T_followed_by_a_name_character_is_not_a_transpose():
    assert error("A.Tx") == (
        "line 1, column 2: unexpected '.Tx'\n"
        "  A.Tx\n"
        "   ^^^\n"
        "'.' starts .* ./ .^ or a transpose .T (which no letter, digit or '_' may follow)")


@pytest.mark.parametrize("text, value", [
    ("2", 2), ("007", 7), ("0.5", 0.5), (".5", 0.5), ("2.", 2.0), ("1e-3", 1e-3),
    ("2.5E+4", 2.5e4), ("3e2", 300.0), ("2.e1", 20.0),
])
def test_numbers(text, value):
    node = expr(text)
    assert node == Number(value, text, Span(0, len(text)))
    assert type(node.value) is type(value)


@pytest.mark.parametrize("source, op", [("2.*x", ".*"), ("2./x", "./"), ("2.^x", ".^")])
def test_a_number_leaves_the_dot_to_a_following_operator(source, op):
    # 2.*x is 2 .* x (as in MATLAB), not (2.)*x
    assert expr(source) == Binary(op, Number(2, "2", Span(0, 1)), Name("x", Span(3, 4)),
                                  Span(0, 4), Span(1, 3))


def test_calls_with_zero_one_and_two_arguments():
    assert expr("eye()") == Call("eye", (), Span(0, 5), Span(0, 3))
    assert expr("exp(x)") == Call("exp", (Name("x", Span(4, 5)),), Span(0, 6), Span(0, 3))
    node = expr("f(a, b*c)")
    assert show(node) == "f[a, (b * c)]"
    assert node.span == Span(0, 9) and node.name_span == Span(0, 1)


def test_function_names_are_not_checked_by_the_parser():
    assert show(expr("nosuchfunction(x)")) == "nosuchfunction[x]"


def test_nested_calls():
    assert show(expr("sum(relu(W*x + b))")) == "sum[relu[((W * x) + b)]]"


# --- programs --------------------------------------------------------------------------

def test_program_with_semicolons_newlines_and_comments():
    source = "\n  # a two-layer net\nh = relu(W1*x + b1);  # hidden\n\no = W2*h;\nsum(o) ;\n "
    program = parse(source)
    assert program.source == source
    assert [s.name for s in program.statements] == ["h", "o", None]
    assert [show(s.expr) for s in program.statements] == [
        "relu[((W1 * x) + b1)]", "(W2 * h)", "sum[o]"]


def test_a_bare_expression_is_a_one_statement_program():
    (statement,) = parse("x'*A*y").statements
    assert statement.name is None and statement.name_span is None
    assert statement.span == Span(0, 6)


def test_trailing_and_repeated_separators_are_allowed():
    assert [s.name for s in parse("a = 1;; b = 2;").statements] == ["a", "b"]


def test_crlf_and_tabs():
    program = parse("a = 1\r\n\tb = a\t*\t2\r\n")
    assert [show(s.expr) for s in program.statements] == ["1", "(a * 2)"]


def test_a_lone_cr_ends_a_statement_as_a_new_line_does():
    # old Mac line endings: `t = x'*x<CR>-y'*y` is two statements, not t = x'*x - y'*y
    assert [s.name for s in parse("t = x'*x\r-y'*y").statements] == ["t", None]
    for nl in ("\n", "\r\n", "\r"):
        program = parse(f"h = relu(W*x){nl}# a note{nl}f = sum(h)  # the loss{nl}")
        assert [s.name for s in program.statements] == ["h", "f"]
        assert [show(s.expr) for s in program.statements] == ["relu[(W * x)]", "sum[h]"]
    assert [s.name for s in parse("a = (1\r+ 2)\rb = a").statements] == ["a", "b"]


def test_spans_and_errors_count_a_cr_as_a_new_line():
    source = "a = x\rb = y\r\nc = a +\r"
    (_, b, c) = [s for s in parse("a = x\rb = y\r\nc = a*b").statements]
    assert (b.span, c.name_span) == (Span(6, 11), Span(13, 14))
    for nl in ("\r", "\r\n", "\n"):
        assert error(f"a = x{nl}b = y{nl}c = a +{nl}") == (
            "line 3, column 8: unexpected end of input: expected an expression\n"
            "  c = a +\n"
            "         ^")
    assert error(source).startswith("line 3, column 8: ")
    assert error("t = x\r\n\r\nf = t + )").startswith("line 3, column 9: unexpected ')'")


def test_a_new_line_inside_parentheses_is_whitespace():
    program = parse("y = f(a,\n      b)\nz = (y\n  + 1)")
    assert [show(s.expr) for s in program.statements] == ["f[a, b]", "(y + 1)"]


def test_a_bare_expression_must_be_last():
    assert error("x'*y\nz = 1") == (
        "line 1, column 1: a bare expression must be the last statement\n"
        "  x'*y\n"
        "  ^^^^\n"
        "give it a name (t = ...) to use it in a later statement")


# --- spans -----------------------------------------------------------------------------

def test_spans_of_a_linear_layer():
    (statement,) = parse("Y = X*A + b'").statements
    assert statement.name == "Y" and statement.name_span == Span(0, 1)
    assert statement.span == Span(0, 12)
    total = statement.expr
    assert total.span == Span(4, 12) and total.op_span == Span(8, 9)
    assert total.left.span == Span(4, 7) and total.left.op_span == Span(5, 6)
    assert total.right == Transpose(Name("b", Span(10, 11)), Span(10, 12))


def test_spans_cover_parentheses_and_signs():
    node = expr("(a+b)*c")
    assert node.span == Span(0, 7)
    assert node.left.span == Span(1, 4)     # the sum itself, without its parentheses
    assert expr("-(x)").span == Span(0, 4)
    assert expr("(x)'").span == Span(0, 4)
    assert parse("y = (x)").statements[0].span == Span(0, 7)
    assert parse("+x").statements[0].span == Span(0, 2)


def test_spans_are_offsets_into_the_whole_program():
    program = parse("a = 1\nb = a * c")
    assert program.statements[1].expr.span == Span(10, 15)
    assert program.statements[1].expr.right == Name("c", Span(14, 15))


# --- resource limits -------------------------------------------------------------------

def test_ten_thousand_term_sum_is_fast_and_flat():
    source = " + ".join(["x"] * 10_000)
    start = time.perf_counter()
    node = expr(source)
    assert time.perf_counter() - start < 5.0      # linear, not quadratic (benchmarks time it)
    terms = 1
    while isinstance(node, Binary):         # a left-leaning chain; walk it, don't recurse
        assert node.op == "+" and isinstance(node.right, Name)
        assert node.span == Span(0, node.right.span.end)
        node, terms = node.left, terms + 1
    assert terms == 10_000 and node == Name("x", Span(0, 1))


def test_ten_thousand_factor_product_parses():
    source = "*".join(["x"] * 10_000)
    start = time.perf_counter()
    node = expr(source)
    assert time.perf_counter() - start < 5.0      # linear, not quadratic (benchmarks time it)
    assert node.op == "*" and node.span == Span(0, len(source))


def test_ten_thousand_nested_parentheses_are_refused_fast():
    source = "(" * 10_000 + "x" + ")" * 10_000
    start = time.perf_counter()
    with pytest.raises(LimitError) as info:
        parse(source)
    assert time.perf_counter() - start < 0.5
    assert info.value.span == Span(MAX_DEPTH, MAX_DEPTH + 1)   # the first too-deep '('
    rendered = info.value.render().splitlines()
    assert rendered[0] == ("line 1, column 201: nesting too deep: more than 200 levels of "
                           "parentheses, calls, signs or powers")
    # a long line is shown as a window around the span: the caret sits under its '('
    assert rendered[1][rendered[2].index("^")] == "("
    assert rendered[1].startswith("  ...(((")
    assert rendered[3] == "split the expression into named steps: t = ...; y = ..."


def test_nesting_up_to_the_limit_is_accepted():
    assert show(expr("(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH)) == "x"
    with pytest.raises(LimitError):
        parse("(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1))


@pytest.mark.parametrize("source, first_too_deep", [
    ("-" * 10_000 + "x", MAX_DEPTH),
    ("x^" * 10_000 + "x", 2 * MAX_DEPTH + 1),
    ("f(" * 10_000 + "x" + ")" * 10_000, 2 * MAX_DEPTH + 1),
    ("-(" * 10_000 + "x" + ")" * 10_000, MAX_DEPTH),
])
def test_deep_signs_powers_and_calls_are_refused(source, first_too_deep):
    with pytest.raises(LimitError) as info:
        parse(source)
    assert info.value.span.start == first_too_deep


def test_flat_chains_do_not_count_as_nesting():
    node = expr(" - ".join(["-x"] * 1000))
    assert node.op == "-"


def test_too_long_input_is_refused():
    with pytest.raises(LimitError) as info:
        parse("x" * (MAX_SOURCE_CHARS + 1))
    assert info.value.render() == "input too long: 1,000,001 characters (the limit is 1,000,000)"


# --- errors, exactly as the user sees them ---------------------------------------------

@pytest.mark.parametrize("source", ["", "   \n\t ", "# just a comment\n", ";;\n;"])
def test_empty_input(source):
    assert error(source) == "empty input: nothing to derive"


@pytest.mark.parametrize("source, lines", [
    ("a)", [
        "line 1, column 2: unexpected ')'",
        "  a)",
        "   ^",
        "there is no '(' for it to close",
    ]),
    ("f(a, (b)", [
        "line 1, column 2: unbalanced parenthesis: '(' is never closed",
        "  f(a, (b)",
        "   ^",
        "add the missing ')'",
    ]),
    ("y = (a +\n b", [
        "line 1, column 5: unbalanced parenthesis: '(' is never closed",
        "  y = (a +",
        "      ^",
        "add the missing ')'",
    ]),
    ("()", [
        "line 1, column 2: unexpected ')': expected an expression",
        "  ()",
        "   ^",
    ]),
    ("f(a,)", [
        "line 1, column 5: unexpected ')': expected an expression",
        "  f(a,)",
        "      ^",
    ]),
    ("x = 1 +", [
        "line 1, column 8: unexpected end of input: expected an expression",
        "  x = 1 +",
        "         ^",
    ]),
    ("x =  # nothing yet\n", [
        "line 1, column 4: unexpected end of input: expected an expression",
        "  x =  # nothing yet",
        "     ^",
    ]),
    ("x = 1 +\ny = 2", [
        "line 1, column 8: unexpected end of line: expected an expression",
        "  x = 1 +",
        "         ^",
    ]),
    ("a + * b", [
        "line 1, column 5: unexpected '*': expected an expression",
        "  a + * b",
        "      ^",
    ]),
    ("x**2", [
        "line 1, column 3: unexpected '*': expected an expression",
        "  x**2",
        "    ^",
        "'**' is not an operator: write ^ for a power (x^2)",
    ]),
    ("a $ b", [
        "line 1, column 3: unexpected character '$'",
        "  a $ b",
        "    ^",
    ]),
    ("x\x00", [
        "line 1, column 2: unexpected character '\\x00'",
        "  x\x00",
        "   ^",
    ]),
    ("ℵ*x", [
        "line 1, column 1: unexpected character 'ℵ'",
        "  ℵ*x",
        "  ^",
        "names are made of ASCII letters, digits and '_'",
    ]),
    ("a < b", [
        "line 1, column 3: unexpected character '<'",
        "  a < b",
        "    ^",
        "only '>' is a comparison: write b > a",
    ]),
    # an implicit product is read only where nothing else can be meant: not a number
    # after an operand (x'2), nor two numbers (2 3)
    ("(a+b)2", [
        "line 1, column 6: missing operator between '(a+b)' and '2'",
        "  (a+b)2",
        "       ^",
        "put an operator between them, e.g. '*' for a product",
    ]),
    ("2 3", [
        "line 1, column 3: missing operator between '2' and '3'",
        "  2 3",
        "    ^",
        "put an operator between them, e.g. '*' for a product",
    ]),
    ("||x", [
        "line 1, column 1: unbalanced norm: '||' is never closed",
        "  ||x",
        "  ^^",
        "close it with || (a norm is ||x||, or norm2(x))",
    ]),
    ("|x|", [
        "line 1, column 1: unexpected character '|'",
        "  |x|",
        "  ^",
        "a norm is ||x|| (or norm2(x)); for absolute values write abs(x), for a determinant "
        "det(X)",
    ]),
    ("(x}", [
        "line 1, column 3: unexpected '}': the '(' before it is not closed",
        "  (x}",
        "    ^",
        "close the '(' first",
    ]),
    ("a = b = c", [
        "line 1, column 7: unexpected '='",
        "  a = b = c",
        "        ^",
        "a statement is `name = expression`; separate statements with ';' or new lines",
    ]),
    ("a, b", [
        "line 1, column 2: unexpected ','",
        "  a, b",
        "   ^",
        "',' separates the arguments of a call such as f(a, b)",
    ]),
    ("1e999", [
        "line 1, column 1: number out of range: 1e999",
        "  1e999",
        "  ^^^^^",
    ]),
])

def test_error_messages(source, lines):
    assert error(source) == "\n".join(lines)


def test_an_error_on_a_later_line_shows_that_line():
    assert error("a = 1\nb = (a +\n c)\nc = b $ 1") == (
        "line 4, column 7: unexpected character '$'\n"
        "  c = b $ 1\n"
        "        ^")


def test_syntax_errors_are_of_kind_syntax():
    with pytest.raises(MatcalcError) as info:
        parse("x +")
    assert info.value.kind == "syntax"


_PIECES = ["x", "A", "f", "2", ".5", "2.", "1e-3", "+", "-", "*", "@", "/", ".*", "./",
           "⊙", "∘", "^", ".^", "'", "ᵀ", ".T", ">", "(", ")", ",", ";", "=", "\n", " ",
           "#", ".", "$", "α", "e", "T", "\r", "\r\n", "\t", "\f", "||", "‖", "_2", "_F", "{",
           "}", "²", "⁻¹", "−", "σ", "|"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=25).map("".join))
def test_any_text_gives_a_program_or_a_matcalc_error(source):
    try:
        program = parse(source)
    except MatcalcError as exc:
        assert exc.source == source
        exc.render()
    else:
        assert program.statements and program.source == source


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=25).map("".join))
def test_the_tokens_are_those_of_larks_own_lexer_for_the_grammar(source):
    # parse.py scans with one regular expression made of grammar.lark's terminals; lark's
    # own lexer, given the same file, must cut any text into the same tokens (new lines
    # inside parentheses aside: they are whitespace) and stop at the same character
    from lark.exceptions import UnexpectedCharacters

    from matcalc import parse as parser_module

    try:
        tokens, stop = parser_module._parser()[1].scan(source)
    except MatcalcError:
        return                   # unbalanced or too deep: refused before any lexing matters
    if any(t.type.startswith("NORM") or t.value != source[t.start_pos:t.end_pos]
           for t in tokens):
        return                   # norms and Greek letters are the scanner's own
    # implicit products are the scanner's own too: a '*' where nothing is written
    tokens = [t for t in tokens if t.start_pos != t.end_pos]
    expected, depth = [], 0
    try:
        for token in _larks_lexer().lex(source):
            depth += (token.type in ("LPAR", "LBRACE")) - (token.type in ("RPAR", "RBRACE"))
            if token.type != "_NL" or depth == 0:
                expected.append((token.type, str(token), token.start_pos, token.end_pos))
    except UnexpectedCharacters as exc:
        assert stop == exc.pos_in_stream
    else:
        assert stop is None
    assert [(t.type, t.value, t.start_pos, t.end_pos) for t in tokens] == expected


@functools.cache
def _larks_lexer():
    import lark

    from matcalc.parse import _GRAMMAR
    return lark.Lark(_GRAMMAR.read_text(encoding="utf-8"), parser="lalr", lexer="basic")


# --- speed and imports -----------------------------------------------------------------

def test_one_line_parses_well_under_a_millisecond():
    source = "L = sum(relu(W2*relu(W1*x + b1) + b2)) + lambda*norm2(W1)^2"
    parse(source)
    best = min(_time(source, 50) for _ in range(5))
    assert best < 1e-3


def _time(source: str, n: int) -> float:
    # CPU time of this process, as test_limits measures: other processes' load is not ours
    start = time.process_time()
    for _ in range(n):
        parse(source)
    return (time.process_time() - start) / n


def test_importing_the_parser_does_not_import_lark():
    code = "import sys, matcalc.parse; assert 'lark' not in sys.modules, 'lark imported'"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_the_parser_is_built_once():
    module = sys.modules["matcalc.parse"]   # the module, whatever matcalc exports as `parse`
    parse("x")
    built = module._PARSER
    parse("y")
    assert module._PARSER is built


def test_statement_fields():
    (statement,) = parse("z = x").statements
    assert statement == Statement("z", Span(0, 1), Name("x", Span(4, 5)), Span(0, 5))


# --- the parser's tables: generated ahead, never a cache --------------------------------

def test_the_parser_module_is_generated_from_this_grammar(tmp_path):
    # matcalc/_lark_parser.py is lark's standalone parser for grammar.lark; after an edit of
    # the grammar, `python -m matcalc.parse` writes it again
    import hashlib

    from matcalc import parse as parser_module
    grammar = parser_module._GRAMMAR.read_bytes()
    committed = parser_module._STANDALONE.read_text(encoding="utf-8")
    assert committed.startswith(f"# grammar.lark sha256 {hashlib.sha256(grammar).hexdigest()}:"), \
        "matcalc/_lark_parser.py is stale: run python -m matcalc.parse"
    fresh = tmp_path / "fresh.py"
    parser_module.write_standalone(fresh)
    namespaces = [{}, {}]
    for ns, text in zip(namespaces, (committed, fresh.read_text(encoding="utf-8")), strict=True):
        exec(compile(text, "<standalone>", "exec"), ns)
    # the terminals and rules agree (lark numbers the LALR states differently from one run
    # to the next, so the tables are compared by what they accept, below and in every test)
    assert namespaces[0]["MEMO"] == namespaces[1]["MEMO"]
    assert len(namespaces[0]["DATA"]["parser"]["parser"]["states"]) == \
        len(namespaces[1]["DATA"]["parser"]["parser"]["states"])


WATCH = r"""
import json, os, pickle, sys, tempfile
tmp = tempfile.gettempdir()        # (which tries a file there: before the watch begins)
opened, unpickled = [], []
def refuse(*args, **kwargs):
    unpickled.append("called")
    raise RuntimeError("unpickling")
if sys.argv[1:] == ["refuse"]:
    pickle.load = pickle.loads = refuse
def hook(event, args):
    if event == "open" and isinstance(args[0], (str, bytes)):
        opened.append(os.fsdecode(args[0]))
    if event.startswith("pickle."):
        unpickled.append(event)
sys.addaudithook(hook)
import matcalc
matcalc.derive("f = x'*A*x")
print(json.dumps({"opened": opened, "unpickled": unpickled, "tmp": tmp}))
"""


def _watched(tmp_path, refuse: bool = True) -> dict:
    """What a fresh process that derives opens and unpickles, with the temporary directory
    (and home and cache directories) in tmp_path; `refuse`: with pickle's loaders broken."""
    import json
    import os
    env = dict(os.environ, TMPDIR=str(tmp_path), HOME=str(tmp_path / "home"),
               XDG_CACHE_HOME=str(tmp_path / "cache"))
    out = subprocess.run([sys.executable, "-c", WATCH] + ["refuse"] * refuse, env=env,
                         capture_output=True, text=True, check=True, timeout=120)
    return json.loads(out.stdout)


def test_parsing_reads_no_cache_and_unpickles_nothing(tmp_path):
    # lark's cache=True kept a pickle at a predictable name in the shared temporary
    # directory and unpickled it before any check: any local user could plant one
    seen = _watched(tmp_path)
    assert seen["tmp"] == str(tmp_path)
    assert not [p for p in seen["opened"] if p.startswith(str(tmp_path))]
    assert seen["unpickled"] == []
    assert list(tmp_path.iterdir()) == []


def test_a_planted_parser_cache_runs_nothing(tmp_path):
    # whatever lies in the temporary directory (here: every file a first run left there,
    # turned into a pickle that writes a marker when loaded) is never loaded
    import pickle
    marker = tmp_path / "MARKER"
    (tmp_path / "home").mkdir()
    _watched(tmp_path)

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    planted = [p for p in tmp_path.iterdir() if p.is_file()]
    for path in planted + [tmp_path / ".lark_cache_planted.tmp"]:
        first = path.read_bytes().split(b"\n", 1)[0] if path.exists() else b"0" * 64
        path.write_bytes(first + b"\n" + pickle.dumps(Payload()) * 2)
    _watched(tmp_path, refuse=False)
    assert not marker.exists()
