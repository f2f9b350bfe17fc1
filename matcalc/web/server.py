"""The Starlette app of `matcalc serve` and the function that runs it with uvicorn.

The server process does no matcalc work: it checks who is asking (the Host header, the
Origin of a POST), caps the request body before reading it whole, and hands the raw body
to a worker (`workers.WorkerPool`); every derivation runs there, under a time limit.

Safe by default:
- it binds 127.0.0.1, and answers only requests whose Host header names the address it
  serves, with its port (`127.0.0.1:P`, `localhost:P`, `[::1]:P`): a DNS-rebinding page,
  whose requests carry its own domain name, is refused;
- a POST must be JSON from the page's own origin (or from no page: scripts);
- the body is capped at `MAX_BODY` bytes, enough for a program at the CLI's size limit
  (`matcalc.parse.MAX_SOURCE_CHARS`) in any JSON escaping of ASCII;
- every response carries the security headers of `SECURITY_HEADERS` (see `CSP`).
"""
from __future__ import annotations

import html
import ipaddress
import json
import socket
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

import matcalc
from matcalc.errors import MatcalcError

from .examples import EXAMPLES
from .workers import TIME_LIMIT, WorkerPool

HERE = Path(__file__).parent
DEFAULT_PORT = 8000
MAX_BODY = 8 * 1024 * 1024

# The Content-Security-Policy. Scripts: only this server's files, never inline, never
# eval; and no HTML strings in the DOM at all (Trusted Types with no policy: an
# `innerHTML = string` throws, in the page's script and in KaTeX alike). Styles: the
# style sheets must be files (`style-src-elem 'self'`), but style *attributes* are
# allowed, because KaTeX sizes its SVG (square roots, wide accents) with a style
# attribute; an attribute cannot load anything that `default-src 'none'` and
# `font-src`/`img-src 'self'` do not allow. Framing: the page itself and local pages
# (a Jupyter notebook's IFrame), nothing else.
CSP_DIRECTIVES = (
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "style-src-elem 'self'",
    "style-src-attr 'unsafe-inline'",
    "font-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "object-src 'none'",
    "frame-ancestors 'self' http://localhost:* http://127.0.0.1:*",
    "require-trusted-types-for 'script'",
    "trusted-types 'none'",
)
CSP = "; ".join(CSP_DIRECTIVES)

SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def allowed_hosts(host: str, port: int) -> frozenset[str]:
    """The Host header values answered: the loopback names and the address served, with
    its port. (A wildcard address, 0.0.0.0 or ::, adds nothing: name the address.)"""
    names = set(LOOPBACK_NAMES)
    try:
        ip = ipaddress.ip_address(host)
        if not ip.is_unspecified:
            names.add(f"[{ip}]" if ip.version == 6 else str(ip))
    except ValueError:
        names.add(host.lower())
    return frozenset(f"{name}:{port}" for name in names)


class Guard:
    """ASGI middleware: refuse a request whose Host is not served (421), or a POST from
    another origin (403; a script sends no Origin and is answered); add
    `SECURITY_HEADERS` to every response."""

    def __init__(self, app, hosts: frozenset[str]):
        self.app = app
        self.hosts = hosts
        self.origins = frozenset(f"http://{h}" for h in hosts)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope["headers"]}
        refusal = None
        if headers.get("host", "").lower() not in self.hosts:
            refusal = (421, "this server answers only requests to " +
                       ", ".join(sorted(f"http://{h}/" for h in self.hosts)))
        elif scope["method"] == "POST" and "origin" in headers and \
                headers["origin"].lower() not in self.origins:
            refusal = (403, "cross-origin requests are refused")

        async def send_secured(message):
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + \
                    [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
            await send(message)

        if refusal is not None:
            response = JSONResponse({"error": refusal[1], "kind": "refused"}, refusal[0])
            return await response(scope, receive, send_secured)
        await self.app(scope, receive, send_secured)


class BodyTooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The request body; BodyTooLarge as soon as it exceeds `limit` bytes (by its
    Content-Length, or while it streams in), before it is held whole."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def render_page() -> str:
    """The page, with the examples and the limits filled in (all text escaped: the
    examples go in as JSON in a non-executed script element, `<` escaped)."""
    from matcalc.parse import MAX_SOURCE_CHARS
    template = (HERE / "templates" / "index.html").read_text(encoding="utf-8")
    examples = json.dumps(EXAMPLES, ensure_ascii=True).replace("<", "\\u003c") \
        .replace(">", "\\u003e").replace("&", "\\u0026")
    groups = {}
    for i, ex in enumerate(EXAMPLES):
        groups.setdefault(ex["group"], []).append(
            f'<option value="{i}">{html.escape(ex["title"])}</option>')
    menu = "".join(f'<optgroup label="{html.escape(g)}">{"".join(opts)}</optgroup>'
                   for g, opts in groups.items())
    fill = {"version": html.escape(matcalc.__version__), "examples_json": examples,
            "examples_menu": menu, "max_chars": str(MAX_SOURCE_CHARS)}
    for key, value in fill.items():
        template = template.replace("{{" + key + "}}", value)
    return template


def create_app(host: str = "127.0.0.1", port: int = DEFAULT_PORT, *, workers: int | None = None,
               time_limit: float = TIME_LIMIT, max_body: int = MAX_BODY,
               memory_limit: int | None = None, on_ready=None) -> Guard:
    """The app serving the page and the API at http://host:port/, its worker pool
    started and stopped with it (the ASGI lifespan). `on_ready()` is called once the
    workers are up."""
    pool_options = {} if memory_limit is None else {"memory_limit": memory_limit}
    pool = WorkerPool(workers, time_limit=time_limit, **pool_options)
    page = render_page()

    @asynccontextmanager
    async def lifespan(app):
        await pool.start()
        if on_ready is not None:
            on_ready()
        try:
            yield
        finally:
            pool.close()

    async def index(request: Request) -> Response:
        return HTMLResponse(page)

    def api_route(route: str):
        async def endpoint(request: Request) -> Response:
            media = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if media != "application/json":
                return JSONResponse({"error": "the request body must be JSON "
                                     "(Content-Type: application/json)", "kind": "request"}, 415)
            try:
                body = await read_body(request, max_body)
            except BodyTooLarge:
                return JSONResponse({"error": f"the request is larger than {max_body:,} bytes",
                                     "kind": "limit"}, 413)
            reply = await pool.run(route, body)
            return Response(reply.body, reply.status, media_type=reply.media_type,
                            headers={"cache-control": "no-store", **reply.headers})
        return endpoint

    app = Starlette(routes=[
        Route("/", index),
        Route("/api/derive", api_route("derive"), methods=["POST"]),
        Route("/api/codegen", api_route("codegen"), methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ], lifespan=lifespan)
    app.state.pool = pool
    guard = Guard(app, allowed_hosts(host, port))
    guard.pool = pool
    return guard


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: a free port); MatcalcError if taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise MatcalcError(f"cannot listen on {host}:{port}: {e.strerror or e}",
                           hint="choose another port with --port, or --port 0 for any "
                                "free one") from None
    sock.set_inheritable(True)
    return sock


def url_of(host: str, port: int) -> str:
    try:
        if ipaddress.ip_address(host).is_unspecified:
            host = "127.0.0.1"
        elif ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass
    return f"http://{host}:{port}/"


def serve(host: str = "127.0.0.1", port: int = DEFAULT_PORT, open_browser: bool = False,
          echo=print) -> None:
    """Serve the page until interrupted; `echo` reports the address (once it answers)."""
    import uvicorn
    sock = listen(host, port)
    port = sock.getsockname()[1]
    url = url_of(host, port)

    def ready():
        echo(f"matcalc: serving on {url}  (Ctrl-C to stop)")
        if open_browser:
            import webbrowser
            webbrowser.open(url)

    app = create_app(host, port, on_ready=ready)
    config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False,
                            server_header=False, timeout_graceful_shutdown=2)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:      # uvicorn stops on Ctrl-C, then raises it again: done
        pass
