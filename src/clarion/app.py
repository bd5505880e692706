"""``create_app(settings)`` → the FastAPI app; its lifespan builds and closes the Container and Services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from clarion import __version__
from clarion.actions import endpoints as action_endpoints
from clarion.activation.flowservice import endpoints as flowservice_endpoints
from clarion.activation.runs import endpoints as runs_endpoints
from clarion.api.errors import install_error_handlers
from clarion.api.hotpath import HotPathMiddleware
from clarion.api.middleware import GatewayMiddleware
from clarion.api.openapi import alias_operation_id, install_openapi, operation_id
from clarion.audiences import endpoints as audience_endpoints
from clarion.campaigns import endpoints as campaign_endpoints
from clarion.config import Settings
from clarion.console.app import build_console
from clarion.console.web import Console
from clarion.delivery import endpoints as delivery_endpoints
from clarion.executions import endpoints as execution_endpoints
from clarion.feedback import endpoints as feedback_endpoints
from clarion.ops import endpoints as ops_endpoints
from clarion.ops.logging import configure_logging
from clarion.ops.metrics import Metrics
from clarion.ops.tuning import tune_garbage_collector
from clarion.outbound import endpoints as outbound_endpoints
from clarion.profiles import endpoints as profile_endpoints
from clarion.runtime import BackgroundServices
from clarion.services import open_services
from clarion.suppressions import endpoints as suppression_endpoints
from clarion.tenancy import endpoints as tenancy_endpoints
from clarion.throttling import endpoints as throttling_endpoints
from clarion.usage import endpoints as usage_endpoints

log = structlog.get_logger()

CONSOLE_PATH = "/console"

DESCRIPTION = """Clarion is wire-compatible with Adobe Journey Optimizer and Experience Platform APIs.
Every endpoint takes `Authorization: Bearer <token>`, `x-api-key`, `x-gw-ims-org-id` and `x-sandbox-name`."""


def create_app(settings: Settings | None = None, *, background: bool = False) -> FastAPI:
    """Build the application. ``background`` also runs the embedded worker and SMTP capture in-process."""
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            async with open_services(settings) as services:
                app.state.container = services.container
                app.state.services = services
                workers = None
                if background:
                    workers = BackgroundServices(services, metrics, run_worker=settings.serve_worker)
                try:
                    if workers is not None:
                        await workers.start()
                    yield
                finally:
                    await console.close()
                    if workers is not None:
                        await workers.stop()
        finally:
            log.info("clarion_stopped")

    app = FastAPI(
        title="Clarion",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        # Clarion reports through Prometheus and its logs. FastAPI's OpenTelemetry hooks, left on, look up
        # the global OTel providers (and environment variables) on every request: ~2 % of the HT intake.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.metrics = metrics
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(ops_endpoints.router)
    app.include_router(tenancy_endpoints.router)
    app.include_router(campaign_endpoints.router)
    app.include_router(campaign_endpoints.read_router)
    app.include_router(delivery_endpoints.router)
    app.include_router(execution_endpoints.router)
    app.include_router(outbound_endpoints.router)
    app.include_router(action_endpoints.router)
    app.include_router(outbound_endpoints.calls_router)
    app.include_router(outbound_endpoints.live_router)
    app.include_router(profile_endpoints.router)
    app.include_router(audience_endpoints.router)
    app.include_router(audience_endpoints.pql_router)
    app.include_router(flowservice_endpoints.router)
    app.include_router(runs_endpoints.router)
    app.include_router(usage_endpoints.router)
    app.include_router(suppression_endpoints.router)
    for prefix in throttling_endpoints.PREFIXES:
        # The same routes under two prefixes: the second copy's operation ids carry its prefix.
        first = prefix == throttling_endpoints.PREFIXES[0]
        app.include_router(
            throttling_endpoints.router,
            prefix=prefix,
            generate_unique_id_function=operation_id if first else alias_operation_id(prefix),
        )
    # The web console: its own sub-application (HTML, forms, sessions), a client of the API above.
    console = Console(app, secure_cookies=settings.base_url.startswith("https://"))
    app.mount(CONSOLE_PATH, build_console(console))
    install_openapi(
        app,
        extras=(
            execution_endpoints.openapi_paths,
            outbound_endpoints.openapi_components,
            feedback_endpoints.openapi_paths,
        ),
    )
    # Added first, so it runs inside GatewayMiddleware (body and content-type rules, metrics).
    app.add_middleware(HotPathMiddleware, routes=execution_endpoints.HOT_ROUTES)
    app.add_middleware(
        GatewayMiddleware,
        max_body_bytes=settings.max_body_bytes,
        metrics=metrics,
        own_rules=(CONSOLE_PATH + "/",),  # the console sends forms and answers HTML: its own plumbing
    )
    # Outermost: the links inside recipients' mail (unsubscribe, open pixel, tracked links) take no
    # credentials, send forms and answer HTML, GIFs and redirects; answered before the gateway and router.
    app.add_middleware(feedback_endpoints.FeedbackRoutes)
    return app


def app_from_environment() -> FastAPI:
    """Factory for ``uvicorn --factory`` (several API processes): settings come from ``CLARION_*``."""
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    app = create_app(settings, background=True)
    tune_garbage_collector()
    return app
