"""Render the README's LaTeX: three derivations as matcalc prints them, on one small page.

    python examples/latex/render.py      # writes readme.tex and readme.png beside this file

Needs pdflatex and pdftoppm (Debian: texlive-latex-base, texlive-latex-recommended,
texlive-fonts-recommended, poppler-utils). The page is as tall as its content: the
derivations are set in a box first, and the page height is the box's.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import matcalc

HERE = Path(__file__).resolve().parent

# (heading, program, derive options, latex options): what the README shows
SHOWN = [
    ("A linear layer, rows are samples", "Y = X*A' + b'",
     {"shapes": {"X": "N,n"}}, {"shapes": True}),
    ("A bilinear form", "z = x'*A*y", {}, {}),
    ("A two-layer MLP, with the backprop steps",
     "z = W1*x + b1; a = relu(z); o = W2*a + b2; J = 0.5*norm2(y - o)^2", {}, {"steps": True}),
]


def command(program: str, options: dict, latex: dict) -> str:
    """The `matcalc derive` command line that prints the same block."""
    args = ["matcalc", "derive", f'"{program}"']
    args += [f"--shape {n}={d}" for n, d in options.get("shapes", {}).items()]
    args += ["--format latex"] + ["--steps"] * bool(latex.get("steps"))
    args += ["--latex-shapes"] * bool(latex.get("shapes"))
    return " ".join(args)


def texttt(text: str) -> str:
    """`text` in typewriter type, its TeX specials escaped."""
    special = {"\\": r"\textbackslash{}", "^": r"\textasciicircum{}", "_": r"\_", "%": r"\%",
               "&": r"\&", "#": r"\#", "$": r"\$", "{": r"\{", "}": r"\}", "~": r"\~{}",
               "'": r"\textquotesingle{}"}
    return r"\texttt{" + "".join(special.get(c, c) for c in text) + "}"


def document() -> str:
    parts = []
    for heading, program, options, latex in SHOWN:
        d = matcalc.derive(program, **options)
        parts.append(rf"\textbf{{{heading}}}\\ {{\small {texttt(command(program, options, latex))}}}"
                     + "\n" + d.latex(**latex))
    body = "\n\n\\medskip\n".join(parts)
    return rf"""\documentclass{{article}}
\usepackage{{amsmath,amssymb}}
\usepackage[paperwidth=16cm,paperheight=60cm,margin=6pt]{{geometry}}
\setlength{{\jot}}{{1ex}}
\setlength{{\parindent}}{{0pt}}
\pagestyle{{empty}}
\newsavebox{{\derivations}}
\begin{{document}}
\begin{{lrbox}}{{\derivations}}
\begin{{minipage}}{{\textwidth}}
{body}
\end{{minipage}}
\end{{lrbox}}
% the page is as tall as the derivations
\setlength{{\pdfpageheight}}{{\dimexpr\ht\derivations+\dp\derivations+12pt\relax}}
\usebox{{\derivations}}
\end{{document}}
"""


def main() -> None:
    tex = document()
    (HERE / "readme.tex").write_text(tex, encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        run = ["pdflatex", "-halt-on-error", "-interaction=nonstopmode", "readme.tex"]
        (Path(tmp) / "readme.tex").write_text(tex, encoding="utf-8")
        done = subprocess.run(run, cwd=tmp, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.exit(done.stdout[-3000:])
        subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", "readme.pdf",
                        str(HERE / "readme")], cwd=tmp, check=True)
    print(f"wrote {HERE / 'readme.tex'} and {HERE / 'readme.png'}")


if __name__ == "__main__":
    main()
