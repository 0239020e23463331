"""structlog configured in one place: JSON lines off a terminal, readable console output on one.

Every line carries `service`; handlers bind `event_id`, `event_type` and `correlation_id` through
`structlog.contextvars`, so one complaint can be followed across services by its correlation id.
Standard-library loggers (aiokafka, uvicorn, faststream) go through the same renderer, so an
operator's stream is JSON lines throughout.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

import structlog


def configure(
    service: str, *, level: str = "INFO", fmt: Literal["auto", "json", "console"] = "auto"
) -> None:
    use_console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _bind_service(service),
    ]
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer()
        if use_console
        else structlog.processors.JSONRenderer(ensure_ascii=False)
    )
    numeric_level = logging.getLevelNamesMapping()[level.upper()]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric_level)
    # Chatty libraries stay at WARNING unless we ask for DEBUG.
    for name in ("aiokafka", "kafka", "uvicorn.access", "faststream"):
        logging.getLogger(name).setLevel(max(numeric_level, logging.WARNING))
    faststream = logging.getLogger("faststream")
    if not any(isinstance(f, _TopicsCheckedElsewhere) for f in faststream.filters):
        faststream.addFilter(_TopicsCheckedElsewhere())


class _TopicsCheckedElsewhere(logging.Filter):
    """Drop FastStream's per-subscriber warning that a consumer-only broker creates no topics:
    the runtime checks they exist before the consumers start (`service._topics_exist`), so the
    warning would be noise at every start."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "consumer-only mode" not in record.getMessage()


def _bind_service(service: str) -> structlog.typing.Processor:
    def processor(
        _logger: object, _name: str, event_dict: structlog.typing.EventDict
    ) -> structlog.typing.EventDict:
        event_dict.setdefault("service", service)
        return event_dict

    return processor
