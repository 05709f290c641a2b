"""Logging: structlog on top of the standard library, one configuration for every process.

Component loggers are named ``fullon.account.<module>`` like fullon_log's. The last processor
before rendering masks secrets, so nothing a caller passes can leak a key into a log line.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

from fullon_account_service.redaction import redact
from fullon_account_service.settings import Settings


def _redact_event(_: Any, __: str, event: structlog.typing.EventDict) -> structlog.typing.EventDict:
    return {k: redact(v, k) for k, v in event.items()}


def _format_exception_then_redact(
    logger: Any, name: str, event: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    return _redact_event(logger, name, structlog.processors.format_exc_info(logger, name, event))


def configure_logging(settings: Settings, *, stream: TextIO | None = None) -> None:
    """Log to stderr (``LOG_CONSOLE``), or to ``stream`` when given (the demo's log file)."""
    json = settings.log_format == "json"
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.processors.TimeStamper(fmt="iso"),
                _format_exception_then_redact,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler] if settings.log_console or stream is not None else [logging.NullHandler()]
    root.setLevel(settings.log_level)
    logging.getLogger("ccxt").setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso"),
            _format_exception_then_redact,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def get_logger(module: str) -> structlog.stdlib.BoundLogger:
    """``get_logger("bus")`` -> logger named ``fullon.account.bus``."""
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(f"fullon.account.{module}")
    return logger
