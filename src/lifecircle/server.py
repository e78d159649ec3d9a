"""The HTTP side of ``lifecircle serve``: a tornado application over a
:class:`~lifecircle.workbench.Workbench`.

tornado is already installed with dask (no new dependency), is asynchronous and well kept, and
serves only the routes listed here: no path of a request reaches the file system. Every answer is
JSON (an error too: ``{"error": {"status": ..., "message": ...}}``, never a traceback), except
the workbench page at ``/`` and its own assets under ``/static/`` (a fixed list, see
:mod:`lifecircle.webpage`), the files a user saves (a scenario's zip, exported tables: built in
memory by :mod:`lifecircle.workbench_files`, sent as attachments) and the printable page.

Requests are answered one at a time on the server's thread (a study is not shared between
threads); the baseline study is never changed and nothing is written to the analysis folder.

Examples
--------
>>> from lifecircle.server import start_in_thread
>>> from lifecircle.workbench import Workbench
>>> running = start_in_thread(Workbench.open("outputs/shanghai"))  # doctest: +SKIP
>>> running.url  # doctest: +SKIP
'http://127.0.0.1:40123/'
>>> running.stop()  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import threading
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import tornado.web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from lifecircle.webpage import PageOptions, content_security_policy, layers, page_html, static_asset
from lifecircle.workbench import RequestError, Workbench

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # bytes of a request body
#: a chunked body (no Content-Length) is read up to this, and refused with 413 beyond MAX_BODY;
#: beyond this the connection is closed
HARD_MAX_BODY = 8 * MAX_BODY
LOOPBACK = ("127.0.0.1", "localhost", "::1")
API = {
    "GET /api/summary": "the analysis: area-wide shares, complete life circle, target, categories",
    "GET /api/layers": (
        "the map's communities and facilities, the baseline's service areas per category and "
        "gaps, as GeoJSON (WGS 84)"
    ),
    "POST /api/evaluate": 'coverage with {"add": [{"category", "lon", "lat", "name"}], '
    '"remove": ["<facility_id>"]}',
    "POST /api/sites": 'siting: {"category": "...", "count": N} or {"category": "...", '
    '"target": 0.85, "per": "community"}',
    "POST /api/scenario": 'the edits {"add", "remove"} saved as lifecircle-scenario.zip '
    "(workbench.csv, remove.csv, README.txt for `lifecircle scenario`)",
    "POST /api/scenario/load": "a saved lifecircle-scenario.zip (application/zip) back as "
    '{"add", "remove"}',
    "POST /api/export": 'the state\'s coverage.csv and coverage_change.csv: {"add", "remove", '
    '"format": "csv" | "xlsx"}',
    "POST /api/print": 'the state as a printable page: {"add", "remove", "lang": "zh" | "en"}',
}


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (``127.0.0.1``, ``localhost``, ``::1``…)."""
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_warning(host: str) -> str | None:
    """What to tell a user serving on ``host`` when others on the network can reach it."""
    if is_loopback(host):
        return None
    return (
        f"serving on {host}: other machines on the network can reach the workbench and read "
        "the analysis (residents, facilities) without a password; use --host 127.0.0.1 unless "
        "that is meant"
    )


def _allowed_hosts(port: int) -> set[str]:
    return {f"{h}:{port}" for h in ("127.0.0.1", "localhost", "[::1]")} | {
        "127.0.0.1",
        "localhost",
        "[::1]",
    }


class _Base(tornado.web.RequestHandler):
    """JSON errors for every status; on loopback, only requests naming this machine as their
    Host (a page on another site that rebinds its name to 127.0.0.1 is refused)."""

    def initialize(
        self,
        bench: Workbench | None = None,
        loopback_port: int | None = None,
        page: PageOptions | None = None,
    ) -> None:
        self.bench = bench
        self.loopback_port = loopback_port
        self.page = page or PageOptions()

    def set_default_headers(self) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")

    def prepare(self) -> Awaitable[None] | None:
        port = self.loopback_port
        if port is not None and self.request.host not in _allowed_hosts(port):
            raise RequestError(
                403, f"Host {self.request.host!r} is not this machine; use 127.0.0.1"
            )
        return None

    def send_file(self, data: bytes, *, kind: str, filename: str | None = None) -> None:
        """Send ``data`` as ``kind``; with ``filename``, as an attachment to save."""
        self.set_header("Content-Type", kind)
        if filename is not None:
            self.set_header("Content-Disposition", f'attachment; filename="{filename}"')
        self.finish(data)

    def send_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(data, ensure_ascii=False, allow_nan=False))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, RequestError):
            message = exc.message
        elif isinstance(exc, tornado.web.HTTPError) and status_code == 405:
            message = f"{self.request.method} is not allowed on {self.request.path}"
        elif status_code == 404:
            message = f"no such page: {self.request.path}; the API is {', '.join(API)}"
        elif status_code >= 500:
            message = "the server failed on this request (see its console)"
        else:
            message = self._reason
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"error": {"status": status_code, "message": message}}))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, RequestError):
            log.info("%s %s: %s", self.request.method, self.request.path, value.message)
        else:
            super().log_exception(typ, value, tb)

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, RequestError):
            status_code = exc.status
        super().send_error(status_code, **kwargs)


class _NotFound(_Base):
    def prepare(self) -> None:
        super().prepare()
        raise tornado.web.HTTPError(404)


class _Index(_Base):
    """The workbench page (its script and styles are listed static files)."""

    def get(self) -> None:
        assert self.bench is not None
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Content-Security-Policy", content_security_policy(self.page))
        self.set_header("Referrer-Policy", "no-referrer")
        self.finish(page_html(self.bench, self.page))


class _Static(_Base):
    """One of the page's own assets, by its name in :data:`lifecircle.webpage.STATIC`; any
    other name (a path, ``..``, an encoded one) is 404: no request reaches the file system."""

    def get(self, name: str) -> None:
        asset = static_asset(name)
        if asset is None:
            raise tornado.web.HTTPError(404)
        body, kind = asset
        self.set_header("Content-Type", kind)
        self.finish(body)


class _Layers(_Base):
    """The map's layers, built on the first request and kept by the application."""

    def get(self) -> None:
        assert self.bench is not None
        kept = self.application.settings["lifecircle_layers"]
        if not kept:
            kept.append(json.dumps(layers(self.bench), ensure_ascii=False, allow_nan=False))
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(kept[0])


class _Summary(_Base):
    def get(self) -> None:
        assert self.bench is not None
        self.send_json(self.bench.summary())


@tornado.web.stream_request_body
class _Post(_Base):
    """A POST of JSON (or of another of :attr:`body_types`, 415 otherwise): the body read up
    to :data:`MAX_BODY` bytes (413 beyond), then parsed (:meth:`body`) or taken as it is
    (:meth:`raw`)."""

    #: the media types of the body this route takes (the first is named in a refusal)
    body_types: tuple[str, ...] = ("application/json",)

    def prepare(self) -> None:
        super().prepare()
        self._chunks: list[bytes] = []
        self._size = 0
        if self.request.method != "POST":
            return
        length = self.request.headers.get("Content-Length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            raise RequestError(413, f"the body is over {MAX_BODY:,} bytes; send less at once")
        kind = self.request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if kind not in self.body_types:
            raise RequestError(
                415, f"Content-Type {kind or 'none'!r}: send the body as {self.body_types[0]}"
            )

    def data_received(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size <= MAX_BODY:
            self._chunks.append(chunk)

    def raw(self) -> bytes:
        """The body's bytes (413 when over :data:`MAX_BODY`)."""
        if self._size > MAX_BODY:
            raise RequestError(413, f"the body is over {MAX_BODY:,} bytes; send less at once")
        return b"".join(self._chunks)

    def body(self) -> Any:
        raw = self.raw()

        def no_constant(name: str) -> None:
            raise ValueError(f"{name} is not a number JSON allows")

        try:
            value = json.loads(raw, parse_constant=no_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RequestError(400, f"malformed JSON: {exc}") from None
        except RecursionError:
            raise RequestError(400, "malformed JSON: nested too deeply") from None
        _check_text(value)
        return value


def _check_text(value: Any) -> None:
    """Refuse a body whose text holds an unpaired surrogate (``"\\ud800"`` is valid JSON but
    no character): no name or id may be stored or shown that UTF-8 cannot write."""
    todo = [value]
    while todo:
        v = todo.pop()
        if isinstance(v, dict):
            todo.extend(v.keys())
            todo.extend(v.values())
        elif isinstance(v, list):
            todo.extend(v)
        elif isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                raise RequestError(
                    400, f"malformed JSON: {v[:40]!r} holds an unpaired surrogate, not text"
                ) from None


class _Evaluate(_Post):
    def post(self) -> None:
        assert self.bench is not None
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(self.bench.evaluate_json(self.body()))


class _Sites(_Post):
    def post(self) -> None:
        assert self.bench is not None
        self.send_json(self.bench.sites(self.body()))


class _Scenario(_Post):
    def post(self) -> None:
        from lifecircle.workbench_files import SCENARIO_FILENAME, save_scenario

        assert self.bench is not None
        data = save_scenario(self.bench, self.body())
        self.send_file(data, kind="application/zip", filename=SCENARIO_FILENAME)


class _ScenarioLoad(_Post):
    body_types = ("application/zip", "application/x-zip-compressed", "application/octet-stream")

    def post(self) -> None:
        from lifecircle.workbench_files import load_scenario

        assert self.bench is not None
        self.send_json(load_scenario(self.bench, self.raw()))


class _Export(_Post):
    def post(self) -> None:
        from lifecircle.workbench_files import export_tables

        assert self.bench is not None
        name, kind, data = export_tables(self.bench, self.body())
        self.send_file(data, kind=kind, filename=name)


class _Print(_Post):
    def post(self) -> None:
        from lifecircle.workbench_files import print_view

        assert self.bench is not None
        page = print_view(self.bench, self.body())
        self.send_file(page.encode("utf-8"), kind="text/html; charset=utf-8")


def make_app(
    bench: Workbench, *, loopback_port: int | None = None, page: PageOptions | None = None
) -> tornado.web.Application:
    """The tornado application: the API routes, the workbench page and its assets, nothing
    else.

    Parameters
    ----------
    bench
        What the API answers from.
    loopback_port
        When serving on loopback, its port: requests whose Host is not 127.0.0.1, localhost or
        [::1] (at that port) are refused with 403.
    page
        The page's language and whether it loads basemap tiles (default: zh, online).
    """
    kw = {"bench": bench, "loopback_port": loopback_port, "page": page or PageOptions()}
    return tornado.web.Application(
        [
            (r"/", _Index, kw),
            (r"/static/([A-Za-z0-9_.-]+)", _Static, kw),
            (r"/api/summary", _Summary, kw),
            (r"/api/layers", _Layers, kw),
            (r"/api/evaluate", _Evaluate, kw),
            (r"/api/sites", _Sites, kw),
            (r"/api/scenario", _Scenario, kw),
            (r"/api/scenario/load", _ScenarioLoad, kw),
            (r"/api/export", _Export, kw),
            (r"/api/print", _Print, kw),
        ],
        default_handler_class=_NotFound,
        default_handler_args=kw,
        compress_response=True,
        lifecircle_layers=[],
    )


def _listen(
    bench: Workbench, host: str, port: int, page: PageOptions | None = None
) -> tuple[HTTPServer, int]:
    sockets = bind_sockets(port, address=host)
    actual = int(sockets[0].getsockname()[1])
    app = make_app(bench, loopback_port=actual if is_loopback(host) else None, page=page)
    server = HTTPServer(app, max_body_size=HARD_MAX_BODY)
    server.add_sockets(sockets)
    return server, actual


@dataclass
class Running:
    """A workbench served from a background thread (:func:`start_in_thread`)."""

    host: str
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The index page's address."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def stop(self, *, timeout_s: float = 10.0) -> None:
        """Stop serving and wait for the thread to end."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout_s)


def start_in_thread(
    bench: Workbench,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    page: PageOptions | None = None,
) -> Running:
    """Serve ``bench`` from a new thread (``port`` 0: a free one; ``page``: the page's
    language and basemap); returns once it listens."""
    running = Running(host=host)
    ready = threading.Event()
    failed: list[BaseException] = []

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            server, running.port = _listen(bench, host, port, page)
        except BaseException as exc:  # told to the caller
            failed.append(exc)
            loop.close()
            ready.set()
            return
        running._loop = loop
        ready.set()
        try:
            loop.run_forever()
        finally:
            server.stop()
            loop.run_until_complete(server.close_all_connections())
            loop.close()

    running._thread = threading.Thread(target=run, name="lifecircle-serve", daemon=True)
    running._thread.start()
    ready.wait()
    if failed:
        raise failed[0]
    return running


def serve_forever(
    bench: Workbench,
    *,
    host: str,
    port: int,
    started: Any = None,
    page: PageOptions | None = None,
) -> None:
    """Serve ``bench`` on this thread until interrupted (Ctrl-C); ``started`` is told the
    address once it listens; ``page``: the page's language and basemap."""

    async def main() -> None:
        server, actual = _listen(bench, host, port, page)
        if started is not None:
            started(Running(host=host, port=actual).url)
        try:
            await asyncio.Event().wait()
        finally:
            server.stop()
            await server.close_all_connections()

    asyncio.run(main())
