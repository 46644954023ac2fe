"""``create_app(settings)``: the gateway as a Starlette ASGI app, mountable in another app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.middleware import Middleware

from gateway.catalog import sessions, token_state
from gateway.catalog.db import Database, now_us
from gateway.config.loader import load_config
from gateway.core import defender, expiry, scheduler, tasks, transfer_log
from gateway.core.actions import ActionIndex
from gateway.core.dispatcher import Dispatcher
from gateway.core.runtime import Runtime
from gateway.core.vfs import Mounts
from gateway.http import ratelimit
from gateway.http.accesslog import AccessLogMiddleware
from gateway.http.deadline import BodyDeadlineMiddleware
from gateway.http.exception_handlers import HANDLERS
from gateway.http.hotpath import GatewayApp
from gateway.http.routes import ROUTES
from gateway.http.state import RuntimeHolder
from gateway.settings import Settings
from gateway.storage import registry

log = logging.getLogger("gateway")
_SESSION_PURGE_SECONDS = 600


async def start_runtime(settings: Settings) -> Runtime:
    """Load and validate the configuration, open and migrate the catalog, sweep crashed temp files."""
    config = load_config(settings.config_dir, settings.data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.catalog_url, durable=config.server.catalog_durable)
    if settings.migrate:
        await db.migrate()
    backends = registry.build(config, settings.data_dir)
    for backend in backends.values():
        swept = await backend.sweep_temp()
        if swept:
            log.warning("removed %d temp file(s) left by a crashed process in storage '%s'", swept, backend.name)
    return Runtime(config=config, db=db, mounts=Mounts(config, backends), actions=ActionIndex(config))


async def _purge_sessions(rt: Runtime) -> None:
    while True:
        await asyncio.sleep(_SESSION_PURGE_SECONDS)
        try:
            await sessions.purge_expired(rt.db, rt.config.server.session_idle_seconds)
            await token_state.purge_revocations(rt.db, now_us())
        except Exception:
            log.exception("session purge failed")


async def _purge_task_runs(rt: Runtime) -> None:
    keep_us = int(rt.config.tasks.run_retention_days * 86400 * 1_000_000)
    while True:
        try:
            removed = await tasks.purge_runs(rt, now_us() - keep_us)
            if removed:
                log.info("retention: %d task run(s) older than %g days removed", removed,
                         rt.config.tasks.run_retention_days)  # fmt: skip
        except Exception:
            log.exception("task run purge failed")
        await asyncio.sleep(_SESSION_PURGE_SECONDS)


async def _expire_files(rt: Runtime) -> None:
    interval = rt.config.server.expiry_sweep_seconds
    while interval > 0:
        try:
            removed = await expiry.sweep(rt)
            if removed:
                log.info("retention: %d expired file(s) removed", removed)
        except Exception:
            log.exception("expiry sweep failed")
        await asyncio.sleep(interval)


def create_app(settings: Settings) -> GatewayApp:
    holder = RuntimeHolder(lambda: start_runtime(settings))

    @contextlib.asynccontextmanager
    async def lifespan(app: GatewayApp) -> AsyncIterator[None]:
        rt = await holder.get()
        await tasks.sync_config(rt)
        dispatcher = Dispatcher(rt)
        await dispatcher.start()
        await defender.refresh(rt)  # the bans in force before the first request
        background = [asyncio.create_task(_purge_sessions(rt)), asyncio.create_task(_expire_files(rt))]
        background += [asyncio.create_task(defender.keep_fresh(rt)), asyncio.create_task(ratelimit.keep_in_step(rt))]
        background += [
            asyncio.create_task(scheduler.run(rt, dispatcher.worker)),
            asyncio.create_task(_purge_task_runs(rt)),
            asyncio.create_task(transfer_log.keep_trimmed(rt.db, rt.config.agents.transfer_retention_days)),  # i13a
        ]
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await dispatcher.stop()
            await transfer_log.flush(rt.db)  # i13a: the last batch of transfer rows
            await rt.db.dispose()

    # The hot transfers (gateway/http/hotpath.py) skip these layers and the router, doing their work in one.
    app = GatewayApp(
        routes=ROUTES,
        exception_handlers=HANDLERS,
        middleware=[Middleware(AccessLogMiddleware), Middleware(BodyDeadlineMiddleware)],
        lifespan=lifespan,
    )
    app.state.holder = holder
    app.state.settings = settings
    return app
