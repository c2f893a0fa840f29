"""Masked forms of identity numbers and phones, for pages, API answers, logs and CSV exports.

`mask_id_number("330106199001011234")` → `330106********1234` (region and the last four,
never the birth date); `mask_phone("13812345678")` → `138****5678`. Anything that does not
look like the expected shape is masked completely rather than shown. `mask_text` finds
such numbers inside free text, and `install_log_masking` applies it to every log record.
"""

from __future__ import annotations

import logging
import re
from typing import Any

_ID_NUMBER_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])")
_PHONE_IN_TEXT = re.compile(r"(?<![0-9A-Za-z+])((?:\+|00)?86[\s-]?)?(1[3-9]\d{9})(?![0-9A-Za-z])")
# Both shapes hold at least eleven digits in a row (a phone is exactly that, an ID number has 17 or
# 18), so text without such a run has nothing to mask: one cheap scan spares most log lines the rest.
_ELEVEN_DIGITS = re.compile(r"\d{11}")


def mask_id_number(value: str | None) -> str:
    """First 6 and last 4 of an 18-character number; anything else entirely masked."""
    if not value:
        return ""
    value = value.strip()
    if len(value) != 18:
        return "*" * min(len(value), 18)
    return value[:6] + "*" * 8 + value[-4:]


def mask_phone(value: str | None) -> str:
    """First 3 and last 4 of an 11-digit mobile number; anything else entirely masked."""
    if not value:
        return ""
    digits = value.strip()
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix) :].lstrip(" -")
            break
    if len(digits) != 11:
        return "*" * min(len(value.strip()), 11)
    return digits[:3] + "****" + digits[-4:]


def mask_text(text: str) -> str:
    """Masks every identity number and mobile number found in free text (log lines, CSV cells)."""
    if not text or _ELEVEN_DIGITS.search(text) is None:
        return text
    text = _ID_NUMBER_IN_TEXT.sub(lambda match: mask_id_number(match.group(0)), text)
    return _PHONE_IN_TEXT.sub(lambda match: mask_phone(match.group(2)), text)


def _mask_arg(value: Any) -> Any:
    # Only text is masked in place: an int must stay an int, or a "%d" in the message breaks.
    return mask_text(value) if isinstance(value, str) else value


# Servers' access formatters unpack record.args themselves; their records must keep the tuple.
_ARGS_KEPT_LOGGERS = frozenset({"uvicorn.access"})


def _needs_masking(record: logging.LogRecord) -> bool:
    """False when neither the formatted message nor any text argument holds eleven digits in a row."""
    try:
        message = record.getMessage()
    except (TypeError, ValueError):
        return True
    if _ELEVEN_DIGITS.search(message) is not None:
        return True
    args = record.args
    values = args.values() if isinstance(args, dict) else args if isinstance(args, tuple) else ()
    return any(isinstance(value, str) and _ELEVEN_DIGITS.search(value) is not None for value in values)


def _mask_record(record: logging.LogRecord) -> None:
    if not _needs_masking(record):
        # The common case (every access log line, most messages) costs one formatting and a scan.
        _mask_exception(record)
        return
    if isinstance(record.msg, str):
        record.msg = mask_text(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(_mask_arg(arg) for arg in record.args)
    elif isinstance(record.args, dict):
        record.args = {key: _mask_arg(arg) for key, arg in record.args.items()}
    try:
        message = record.getMessage()
    except (TypeError, ValueError):
        return  # a malformed record; logging reports it itself
    masked = mask_text(message)
    if masked != message:
        # A number that only appears once formatted: an int argument, or pieces joined together.
        if record.name in _ARGS_KEPT_LOGGERS:
            _mask_access_path(record)
        else:
            record.msg = masked
            record.args = None
    _mask_exception(record)


def _mask_exception(record: logging.LogRecord) -> None:
    if record.exc_info and not record.exc_text:
        # An exception's text can carry a number too; format it here so the mask applies.
        record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))


def _mask_access_path(record: logging.LogRecord) -> None:
    """uvicorn's access record is (client, method, path, http version, status): mask the path as text."""
    args = record.args
    if isinstance(args, tuple) and len(args) > 2:
        record.args = (*args[:2], mask_text(str(args[2])), *args[3:])


class MaskingLogFilter(logging.Filter):
    """Rewrites a record's message with numbers masked; for a handler that must be masked on its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        _mask_record(record)
        return True


_installed = False


def install_log_masking() -> None:
    """Masks every log record of the process as it is created, whichever logger or handler it goes to.

    A record factory rather than a handler filter, because servers (uvicorn, gunicorn) add their
    handlers after the application is built. Installing twice is harmless.
    """
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _mask_record(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
