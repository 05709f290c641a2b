"""Logging: structlog on top of the standard library, one configuration for every process.

Component loggers are named ``fullon.account.<module>`` like fullon_log's. The last processor
before rendering masks secrets, so nothing a caller passes can leak a key into a log line.

Importing structlog costs about a quarter of a second (it brings rich in for tracebacks), which a
short command that logs nothing should not pay: ``configure_logging`` sets the standard library's
handler at once, but structlog is imported only when the first record is formatted or a logger
first used (``get_logger``), and configured then.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any, TextIO, cast

from fullon_account_service.redaction import redact
from fullon_account_service.settings import Settings

if TYPE_CHECKING:
    import structlog
    from structlog.typing import EventDict


class _Structlog:
    """Whether a logger was made (structlog in use) and whether ``configure_logging`` was called."""

    in_use = False
    configured = False


def _redact_event(_: Any, __: str, event: EventDict) -> EventDict:
    return {k: redact(v, k) for k, v in event.items()}


def _format_exception_then_redact(logger: Any, name: str, event: EventDict) -> EventDict:
    import structlog

    return _redact_event(logger, name, structlog.processors.format_exc_info(logger, name, event))


def _processor_formatter(json: bool) -> logging.Formatter:
    import structlog

    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    return structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso"),
            _format_exception_then_redact,
        ],
    )


class _DeferredFormatter(logging.Formatter):
    """structlog's ``ProcessorFormatter``, built when the first record is formatted."""

    def __init__(self, json: bool) -> None:
        super().__init__()
        self._json = json
        self._formatter: logging.Formatter | None = None

    def format(self, record: logging.LogRecord) -> str:
        if self._formatter is None:
            self._formatter = _processor_formatter(self._json)
            _configure_structlog()
        return self._formatter.format(record)


def _configure_structlog() -> None:
    import structlog

    if not _Structlog.configured:
        return
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
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


def configure_logging(settings: Settings, *, stream: TextIO | None = None) -> None:
    """Log to stderr (``LOG_CONSOLE``), or to ``stream`` when given (the demo's log file)."""
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(_DeferredFormatter(settings.log_format == "json"))
    root = logging.getLogger()
    root.handlers = [handler] if settings.log_console or stream is not None else [logging.NullHandler()]
    root.setLevel(settings.log_level)
    logging.getLogger("ccxt").setLevel(logging.WARNING)
    _Structlog.configured = True
    if _Structlog.in_use:
        _configure_structlog()


def get_logger(module: str) -> structlog.stdlib.BoundLogger:
    """``get_logger("bus")`` -> logger named ``fullon.account.bus``, made at its first use: a
    module-level ``log = get_logger(...)`` imports nothing (``health`` imports the bus's modules
    and would otherwise pay for structlog without logging a line)."""
    return cast("structlog.stdlib.BoundLogger", _DeferredLogger(f"fullon.account.{module}"))


_QUIET_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}


def _ignore(*_: Any, **__: Any) -> None:
    """A log call below its logger's level."""


class _DeferredLogger:
    """Stands for the structlog logger of ``name`` until an attribute of it is asked for.

    A debug or info call below the standard logger's level costs one level check: structlog's
    lazy proxy would otherwise bind a logger and run the processors for a line nobody sees."""

    __slots__ = ("_logger", "_name", "_std")

    def __init__(self, name: str) -> None:
        self._name = name
        self._logger: Any = None
        self._std = logging.getLogger(name)

    def __getattr__(self, attribute: str) -> Any:
        level = _QUIET_LEVELS.get(attribute)
        if level is not None and not self._std.isEnabledFor(level):
            return _ignore
        if self._logger is None:
            import structlog

            if not _Structlog.in_use:
                _Structlog.in_use = True
                _configure_structlog()
            self._logger = structlog.get_logger(self._name)
        return getattr(self._logger, attribute)
