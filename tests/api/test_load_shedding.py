"""Load shedding: past the in-flight bound a request is answered 503 at once, with
Retry-After, instead of queueing; reads and writes are bounded separately."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from sentiment_service.api.app import create_app
from sentiment_service.api.shedding import LoadSheddingMiddleware
from sentiment_service.api.telemetry import ApiMetrics
from sentiment_service.settings import Settings


def _gated_app(gate: anyio.Event, entered: anyio.Event) -> Starlette:
    async def slow(_: Request) -> PlainTextResponse:
        entered.set()
        await gate.wait()
        return PlainTextResponse("done")

    async def fast(_: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/v1/messages", slow, methods=["POST"]),
            Route("/v1/accounts", fast, methods=["GET"]),
            Route("/healthz", fast, methods=["GET"]),
        ]
    )


def test_a_write_past_the_bound_is_shed_at_once_and_the_bound_is_released() -> None:
    metrics = ApiMetrics()

    async def scenario() -> None:
        gate, entered = anyio.Event(), anyio.Event()
        app = LoadSheddingMiddleware(
            _gated_app(gate, entered), max_reads=5, max_writes=1, metrics=metrics
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answers: list[httpx.Response] = []

            async def first() -> None:
                answers.append(await client.post("/v1/messages"))

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(first)
                await entered.wait()  # one write is in flight
                with anyio.fail_after(2):  # answered at once, not queued behind it
                    shed = await client.post("/v1/messages")
                assert shed.status_code == 503
                assert shed.headers["retry-after"] == "1"
                assert shed.headers["content-type"] == "application/problem+json"
                assert "capacity" in shed.json()["detail"]
                assert (await client.get("/v1/accounts")).status_code == 200  # reads: own bound
                assert (await client.get("/healthz")).status_code == 200
                gate.set()
            assert [a.status_code for a in answers] == [200]
            assert app.in_flight == {"read": 0, "write": 0}
            again, gate2 = anyio.Event(), anyio.Event()
            gate2.set()
            app.app = _gated_app(gate2, again)
            assert (await client.post("/v1/messages")).status_code == 200

    anyio.run(scenario)
    assert metrics.shed.labels(kind="write")._value.get() == 1


def test_a_bound_of_zero_admits_everything_and_the_app_installs_the_middleware(
    tmp_path: Path,
) -> None:
    statuses: list[int] = []

    async def scenario() -> None:
        gate, entered = anyio.Event(), anyio.Event()
        app = LoadSheddingMiddleware(_gated_app(gate, entered), max_reads=0, max_writes=0)
        transport = httpx.ASGITransport(app=app)

        async def post(client: httpx.AsyncClient) -> None:
            statuses.append((await client.post("/v1/messages")).status_code)

        async with (
            httpx.AsyncClient(transport=transport, base_url="http://t") as client,
            anyio.create_task_group() as tasks,
        ):
            for _ in range(5):
                tasks.start_soon(post, client)
            await entered.wait()
            await anyio.sleep(0.05)
            gate.set()

    anyio.run(scenario)
    assert statuses == [200] * 5
    settings = Settings(max_in_flight_writes=3, preload_models=False, data_dir=tmp_path)
    app = create_app(settings)
    kinds = [m.cls for m in app.user_middleware]
    assert LoadSheddingMiddleware in kinds
    options = app.user_middleware[kinds.index(LoadSheddingMiddleware)].kwargs
    assert options["max_writes"] == 3 and options["max_reads"] == 64
