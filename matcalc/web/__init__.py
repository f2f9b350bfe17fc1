"""`matcalc serve`: the local web page and its JSON API.

    pip install 'matcalc[web]'        # Starlette and uvicorn
    matcalc serve [--host 127.0.0.1] [--port 8000] [--open]

The package splits along the line the work crosses processes:
- `api` is the contract as pure functions (a request body in, a status and a JSON or
  module body out), over the public `matcalc` API only; it runs in worker processes.
- `workers` keeps a few warm worker processes, each derivation under a time and memory
  limit; a worker that runs over is killed and replaced, so no input can hang the server.
- `server` is the Starlette app in the server process: it guards the Host header, caps
  the request body, sets the security headers and hands each request to a worker.
- `examples` is the data of the examples menu; `templates/` and `static/` are the page
  (one HTML template, one script, one style sheet, KaTeX vendored in `static/katex/`).

Importing this package loads nothing: `api` needs only matcalc, `server` needs the extra.
"""
