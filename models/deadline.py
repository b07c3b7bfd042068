"""One total deadline for an HTTP request: connecting, sending, headers and body, however slowly they trickle.

httpx's timeouts bound each connect, write and read on its own, so a server that sends a
byte every few seconds never trips them. ``DeadlineTransport`` gives each request one
absolute deadline instead: every network operation gets at most the time left, and once
none is left the request fails with ``DeadlinePassed`` and httpcore closes the connection,
so nothing lingers. The deadline reaches the connection's stream through a context variable
set around each step of the request, because httpcore hands a stream nothing but a
per-operation timeout.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Callable, Iterator

import httpcore
import httpx

_deadline: ContextVar[tuple[float, float] | None] = ContextVar("request_deadline", default=None)


class DeadlinePassed(httpx.TimeoutException, httpcore.TimeoutException):
    """A request ran past its total deadline.

    Both an httpcore and an httpx timeout: raised under httpcore (which then closes the
    connection), it reaches the OpenAI client unchanged, which reports it as a timeout.
    """

    def __init__(self, budget_s: float) -> None:
        super().__init__(f"the request ran past its {budget_s:g} s deadline")
        self.budget_s = budget_s


@contextmanager
def _until(ends: float, budget_s: float) -> Iterator[None]:
    token = _deadline.set((ends, budget_s))
    try:
        yield
    finally:
        _deadline.reset(token)


def _within_deadline(operation: Callable[..., Any], *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
    """``operation(*args, timeout=...)`` with the timeout shrunk to what is left of the deadline."""
    current = _deadline.get()
    if current is None:
        return operation(*args, timeout=timeout, **kwargs)
    ends, budget_s = current
    left = ends - time.monotonic()
    if left <= 0:
        raise DeadlinePassed(budget_s)
    try:
        return operation(*args, timeout=left if timeout is None else min(timeout, left), **kwargs)
    except httpcore.TimeoutException as exc:
        if timeout is None or left < timeout:  # it was the deadline that ran out
            raise DeadlinePassed(budget_s) from exc
        raise


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write is bounded by the current request's deadline."""

    _PIECE = 16384  # a slow reader cannot stretch one large write past the deadline

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return _within_deadline(self._stream.read, max_bytes, timeout=timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        for start in range(0, len(buffer), self._PIECE):
            _within_deadline(self._stream.write, buffer[start:start + self._PIECE], timeout=timeout)

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(_within_deadline(self._stream.start_tls, ssl_context, server_hostname, timeout=timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        return _DeadlineStream(_within_deadline(self._backend.connect_tcp, host, port, timeout=timeout,
                                                local_address=local_address, socket_options=socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore.NetworkStream:
        return _DeadlineStream(_within_deadline(self._backend.connect_unix_socket, path, timeout=timeout,
                                                socket_options=socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def environment_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY),
    as httpx itself would use it; a client with its own transport must ask for it explicitly."""
    import urllib.request

    target = httpx.URL(url)
    if target.host and urllib.request.proxy_bypass(target.host):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(target.scheme) or proxies.get("all") or None


class DeadlineTransport(httpx.BaseTransport):
    """An httpx transport on which a request, from connecting to the last body byte, lasts at most ``budget_s``.

    A redirect shares the deadline of the request that led to it.
    """

    def __init__(self, budget_s: float, proxy: str | None = None) -> None:
        self.budget_s = budget_s
        limits = httpx.Limits()  # httpx's defaults
        pool = dict(ssl_context=httpx.create_ssl_context(), max_connections=limits.max_connections,
                    max_keepalive_connections=limits.max_keepalive_connections,
                    keepalive_expiry=limits.keepalive_expiry, network_backend=_DeadlineBackend())
        # Through an HTTP(S) proxy (CONNECT for https), still under the deadline.
        self._pool = httpcore.HTTPProxy(proxy_url=proxy, **pool) if proxy else httpcore.ConnectionPool(**pool)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        # httpx hands a redirect the same extensions dict, so the deadline set here carries over.
        ends = request.extensions.setdefault("models.deadline", time.monotonic() + self.budget_s)
        left = ends - time.monotonic()
        if left <= 0:
            raise DeadlinePassed(self.budget_s)
        timeouts = {name: left if limit is None else min(limit, left)
                    for name, limit in request.extensions.get("timeout", {}).items()}
        url = httpcore.URL(scheme=request.url.raw_scheme, host=request.url.raw_host, port=request.url.port,
                           target=request.url.raw_path)
        core = httpcore.Request(method=request.method, url=url, headers=request.headers.raw, content=request.stream,
                                extensions={**request.extensions, "timeout": timeouts})
        with _until(ends, self.budget_s), _as_httpx_errors():
            response = self._pool.handle_request(core)
        return httpx.Response(status_code=response.status, headers=response.headers, extensions=response.extensions,
                              stream=_DeadlineBody(response.stream, ends, self.budget_s))

    def close(self) -> None:
        self._pool.close()


class _DeadlineBody(httpx.SyncByteStream):
    """A response body whose every read runs under the request's deadline."""

    def __init__(self, stream: Any, ends: float, budget_s: float) -> None:
        self._stream, self._ends, self._budget_s = stream, ends, budget_s

    def __iter__(self) -> Iterator[bytes]:
        parts = iter(self._stream)
        while True:
            with _until(self._ends, self._budget_s), _as_httpx_errors():
                part = next(parts, None)
            if part is None:
                return
            yield part

    def close(self) -> None:
        self._stream.close()


# httpcore's errors as httpx's (as httpx's own transport maps them), most specific first.
_HTTPX_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout), (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout), (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException), (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError), (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError), (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError), (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except httpx.HTTPError:
        raise  # DeadlinePassed is already one
    except Exception as exc:
        for core_error, httpx_error in _HTTPX_ERRORS:
            if isinstance(exc, core_error):
                raise httpx_error(str(exc)) from exc
        raise
