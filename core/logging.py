"""Log formatting: one JSON object per line in production, so log pipelines can index the fields.

A command's correlation id travels in its events' metadata; the command side,
the projectors and the subscribers pass it as `extra={"correlation_id": ...}`
(or `correlation_ids` for a batch), and it comes out as a field of its own.
"""

import json
import logging
from datetime import UTC, datetime

# Fields that callers pass through `extra=` and that are worth a key of their own.
CONTEXT_FIELDS = ("correlation_id", "correlation_ids", "command_id", "follower", "position", "positions")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({field: getattr(record, field) for field in CONTEXT_FIELDS if hasattr(record, field)})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
