"""Masked identity numbers and phones, in values, free text and log records."""

from __future__ import annotations

import logging

import pytest

from regio.core.masking import MaskingLogFilter, install_log_masking, mask_id_number, mask_phone, mask_text


def test_an_identity_number_shows_its_first_six_and_last_four() -> None:
    assert mask_id_number("330106199001011234") == "330106********1234"
    assert mask_id_number("11010519491231002X") == "110105********002X"


def test_a_phone_shows_its_first_three_and_last_four() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+8613812345678") == "138****5678"


@pytest.mark.parametrize("value", ["12345", "3301061990010112345", "abc"])
def test_an_unexpected_shape_is_masked_completely(value: str) -> None:
    assert set(mask_id_number(value)) == {"*"}
    assert set(mask_phone(value)) == {"*"}


def test_empty_values_stay_empty() -> None:
    assert mask_id_number(None) == ""
    assert mask_phone("") == ""


def test_numbers_inside_free_text_are_masked() -> None:
    text = "patient 330106199001011234 phone 13812345678, call +86 13987654321; order 202401011234567890123"
    masked = mask_text(text)
    assert "330106199001011234" not in masked
    assert "330106********1234" in masked
    assert "138****5678" in masked
    assert "139****4321" in masked
    assert "13987654321" not in masked
    # a longer run of digits is not a number of either kind and stays as it is
    assert "202401011234567890123" in masked


def test_a_lowercase_x_number_in_text_is_masked() -> None:
    assert mask_text("id=11010519491231002x.") == "id=110105********002x."


def test_log_records_are_masked_including_their_arguments_and_exceptions() -> None:
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    logger = logging.getLogger("regio.test.masking")
    logger.propagate = False
    handler = Collect()
    logger.addHandler(handler)
    install_log_masking()
    install_log_masking()  # a second install must not mask twice or fail
    try:
        logger.warning("registering %s with %s", "330106199001011234", "13812345678")
        try:
            raise ValueError("bad number 330106199001011234")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    joined = "\n".join(records)
    assert "330106199001011234" not in joined
    assert "13812345678" not in joined
    assert "330106********1234" in joined
    assert "138****5678" in joined


def test_the_handler_filter_masks_and_never_drops_a_record() -> None:
    plain = logging.LogRecord("x", logging.INFO, __file__, 1, "plain message", None, None)
    assert MaskingLogFilter().filter(plain) is True
    assert plain.getMessage() == "plain message"
    secret = logging.LogRecord("x", logging.INFO, __file__, 1, "phone %s", ("13812345678",), None)
    assert MaskingLogFilter().filter(secret) is True
    assert secret.getMessage() == "phone 138****5678"


def test_an_access_log_line_keeps_its_arguments_for_the_server_formatter() -> None:
    # uvicorn's access formatter unpacks five arguments; a masked path must not collapse them
    from uvicorn.logging import AccessFormatter

    from regio.core.masking import MaskingLogFilter

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/api/care/patients/13812345678", "1.1", 404),
        None,
    )
    MaskingLogFilter().filter(record)
    assert isinstance(record.args, tuple) and len(record.args) == 5
    line = AccessFormatter("%(message)s", use_colors=False).format(record)
    assert "13812345678" not in line
    assert "138****5678" in line and "404" in line


def _collected(logger_name: str) -> tuple[logging.Logger, list[str], logging.Handler]:
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    logger = logging.getLogger(logger_name)
    logger.propagate = False
    handler = Collect()
    logger.addHandler(handler)
    return logger, records, handler


def test_a_phone_given_as_an_int_to_a_percent_d_format_is_masked_and_the_line_still_logs() -> None:
    install_log_masking()
    logger, records, handler = _collected("regio.test.masking.ints")
    try:
        logger.warning("calling %d for patient %d", 13812345678, 42)
    finally:
        logger.removeHandler(handler)
    assert records == ["calling 138****5678 for patient 42"]


def test_an_int_argument_that_is_not_a_number_to_hide_stays_an_int() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "slot %d of %05d", (3, 42), None)
    MaskingLogFilter().filter(record)
    assert record.args == (3, 42)
    assert record.getMessage() == "slot 3 of 00042"


def test_an_access_log_record_keeps_its_tuple_even_when_a_number_appears_only_once_joined() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/api/x/1381234", "1.1", 200),
        None,
    )
    MaskingLogFilter().filter(record)
    assert isinstance(record.args, tuple) and len(record.args) == 5
    assert record.args[4] == 200
