"""Reading a hospital's pushed FHIR R4 DiagnosticReport (with its Observations) into checked facts, with
every problem itemised by JSON-pointer path; and writing a stored report back out as FHIR R4.

Pure: no I/O. Only the fields listed in the task are read; anything else a hospital's system sends
(meta, text, performer details, specimens …) is accepted and ignored, as FHIR readers do.

Sources: HL7 FHIR R4 DiagnosticReport, Observation, Quantity, Reference and the dateTime / instant
types (hl7.org/fhir/R4); UCUM (unitsofmeasure.org); the LOINC check digit is the mod-10 (Luhn)
algorithm given in the LOINC Users' Guide.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from regio.care.reports.enums import ReportKind, ReportStatus
from regio.care.reports.schemas import ObservationOut, ReportOut

SHANGHAI = ZoneInfo("Asia/Shanghai")
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
MAX_BODY_BYTES = 1024 * 1024
MAX_OBSERVATIONS = 200
MAX_RANGES = 10
MAX_ID = 2**63 - 1
# Larger magnitudes are a unit or typing error in any lab result, and would lose digits as doubles.
MAX_MAGNITUDE = 1e15
# Clocks of hospital systems drift; an "issued" this far ahead of ours is refused.
CLOCK_SKEW = timedelta(minutes=5)

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$")
_NAIVE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$")
_LOINC_CODE = re.compile(r"^(\d{1,7})-(\d)$")
_DIGITS = re.compile(r"^[1-9]\d{0,18}$")

# code → (Chinese, English); {placeholders} are filled from the problem's parameters.
MESSAGES: dict[str, tuple[str, str]] = {
    "invalid_json": ("请求内容不是有效的 JSON。", "The body is not valid JSON."),
    "too_large": ("请求内容超过 {max} 字节。", "The body is larger than {max} bytes."),
    "required": ("缺少必填字段。", "This field is required."),
    "wrong_type": ("类型不正确，应为{expected_zh}。", "Wrong type: expected {expected}."),
    "not_a_number": (
        "应为有限的数值（不接受 NaN、Infinity 或字符串）。",
        "Expected a finite number (not NaN, Infinity or a string).",
    ),
    "out_of_range": ("数值超出允许范围（{min} 至 {max}）。", "The number is outside {min} to {max}."),
    "empty": ("不能为空。", "Must not be empty."),
    "too_long": ("超过 {max} 个字符。", "Longer than {max} characters."),
    "too_many": ("最多 {max} 项。", "At most {max} items."),
    "invalid_characters": (
        "含有不允许的控制字符或无效编码。",
        "Contains control characters or invalid encoding.",
    ),
    "invalid_value": ("取值无效，应为：{allowed}。", "Invalid value; expected one of: {allowed}."),
    "invalid_loinc": ("LOINC 编码格式或校验位不正确。", "Not a LOINC code: wrong format or check digit."),
    "invalid_reference": ("引用格式无效，应为 {expected}。", "Invalid reference; expected {expected}."),
    "unresolved_reference": (
        "引用的 {target} 不在 contained 中。",
        "The referenced {target} is not in contained.",
    ),
    "duplicate_id": ("contained 中的 id 重复。", "This id is used twice in contained."),
    "duplicate_reference": ("同一结果被引用了两次。", "The same result is referenced twice."),
    "invalid_date": (
        "日期时间格式不正确，应为 FHIR dateTime（如 2026-11-20T08:30:00+08:00）。",
        "Not a FHIR dateTime (e.g. 2026-11-20T08:30:00+08:00).",
    ),
    "timezone_missing": (
        "带时刻的日期时间必须带时区（如 +08:00）。",
        "A date-time with a time needs a time zone (e.g. +08:00).",
    ),
    "in_future": ("时间晚于当前时间。", "The time lies in the future."),
    "after_issued": ("检查/采样时间晚于报告发布时间。", "The effective time is after the issued time."),
    "ambiguous_value": (
        "valueQuantity 与 valueString 只能有一个。",
        "Give valueQuantity or valueString, not both.",
    ),
    "unsupported_value": (
        "不支持该字段（数值结果请用 valueQuantity，文字结果请用 valueString）。",
        "Not supported: use valueQuantity for numbers, valueString for text.",
    ),
    "unit_system": (
        "单位体系应为 UCUM（http://unitsofmeasure.org）。",
        "The unit system must be UCUM (http://unitsofmeasure.org).",
    ),
    "unit_missing": ("数值必须带单位（unit 或 UCUM code）。", "A value needs a unit (unit or a UCUM code)."),
    "unit_mismatch": (
        "参考范围的单位（{range_unit}）与结果单位（{value_unit}）不一致。",
        "The range's unit ({range_unit}) differs from the value's ({value_unit}).",
    ),
    "range_inverted": (
        "参考范围下限 {low} 大于上限 {high}。",
        "The range's low {low} is above its high {high}.",
    ),
    "observations_required": (
        "检验报告至少需要一项结果（result 或 contained 中的 Observation）。",
        "A lab report needs at least one Observation (result or contained).",
    ),
    "amendment_status_required": (
        "报告已发布（{previous}），内容变更须使用状态 amended、corrected 或 cancelled。",
        "The report was released ({previous}): a changed version must have status amended, corrected or cancelled.",
    ),
    "unknown_hospital": ("没有该编号的医院。", "There is no hospital with this id."),
    "unknown_patient": (
        "没有该平台患者编号的患者在本院有问诊或预约记录。",
        "No patient with this platform id has a consultation or booking at this hospital.",
    ),
    "hospital_ambiguous": (
        "您的凭证属于多家医院，请在 performer 中写明本院（Organization/医院编号）。",
        "Your credentials serve several hospitals: name this one in performer (Organization/<hospital id>).",
    ),
}

_TYPE_NAMES = {
    "object": "对象",
    "array": "数组",
    "string": "字符串",
    "number": "数值",
    "string or Identifier": "字符串或 Identifier 对象",
    "number or Quantity": "数值或 Quantity 对象",
}


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    code: str
    message_zh: str
    message_en: str


def problem(path: str, code: str, **params: object) -> Problem:
    zh, en = MESSAGES[code]
    values = {k: str(v) for k, v in params.items()}
    if "expected" in values:
        values["expected_zh"] = _TYPE_NAMES.get(values["expected"], values["expected"])
    return Problem(path=path, code=code, message_zh=zh.format(**values), message_en=en.format(**values))


@dataclass(frozen=True, slots=True)
class ObservationFacts:
    code_system: str
    code: str
    code_text: str
    value: float | None
    value_text: str | None
    unit: str
    ucum_code: str
    low: float | None
    high: float | None
    range_text: str
    interpretation: str
    range_unit: str = ""


@dataclass(frozen=True, slots=True)
class ReportFacts:
    kind: ReportKind
    identifier: str
    status: ReportStatus
    code_system: str
    code: str
    code_text: str
    patient_id: int
    hospital_id: int | None  # from performer; None: the pusher's only hospital
    effective_at: datetime
    issued_at: datetime
    conclusion: str
    observations: tuple[ObservationFacts, ...] = field(default_factory=tuple)

    def content_hash(self) -> str:
        """SHA-256 over what was read (times in UTC, numbers as Python reprs), independent of key order."""
        document = asdict(self)
        document["hospital_id"] = None  # where the report belongs is decided by the pusher, not content
        document["effective_at"] = self.effective_at.astimezone(UTC).isoformat()
        document["issued_at"] = self.issued_at.astimezone(UTC).isoformat()
        canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class _NotANumber:
    """What NaN / Infinity / -Infinity parse to, so the field holding one can be named."""


_NAN = _NotANumber()


def loinc_valid(code: str) -> bool:
    """A LOINC code is digits, a dash and a mod-10 (Luhn) check digit: 718-7, 6690-2."""
    match = _LOINC_CODE.match(code)
    if match is None:
        return False
    total = 0
    for position, char in enumerate(reversed(match.group(1))):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            digit = digit - 9 if digit > 9 else digit
        total += digit
    return (10 - total % 10) % 10 == int(match.group(2))


def _clean_text(text: str) -> bool:
    """No control characters (tab and newlines allowed) and no lone surrogates, which no database stores."""
    if any((ord(c) < 32 and c not in "\t\n\r") or 0xD800 <= ord(c) <= 0xDFFF for c in text):
        return False
    return True


class _Reader:
    """Walks the pushed document, collecting every problem instead of stopping at the first."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.problems: list[Problem] = []

    def add(self, path: str, code: str, **params: object) -> None:
        self.problems.append(problem(path, code, **params))

    def obj(self, value: Any, path: str, *, required: bool = True) -> dict[str, Any] | None:
        if value is None:
            if required:
                self.add(path, "required")
            return None
        if not isinstance(value, dict):
            self.add(path, "wrong_type", expected="object")
            return None
        return value

    def array(self, value: Any, path: str, *, limit: int) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.add(path, "wrong_type", expected="array")
            return []
        if len(value) > limit:
            self.add(path, "too_many", max=limit)
            return []
        return value

    def text(self, value: Any, path: str, *, required: bool = False, limit: int = 200) -> str:
        if value is None:
            if required:
                self.add(path, "required")
            return ""
        if not isinstance(value, str):
            self.add(path, "wrong_type", expected="string")
            return ""
        if not _clean_text(value):
            self.add(path, "invalid_characters")
            return ""
        value = value.strip()
        if required and not value:
            self.add(path, "empty")
        elif len(value) > limit:
            self.add(path, "too_long", max=limit)
            return ""
        return value

    def number(self, value: Any, path: str, *, required: bool = True) -> float | None:
        if value is None:
            if required:
                self.add(path, "required")
            return None
        if isinstance(value, _NotANumber | str):
            self.add(path, "not_a_number")
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.add(path, "wrong_type", expected="number")
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.add(path, "not_a_number")  # 1e400 reads as infinity
            return None
        if abs(value) > MAX_MAGNITUDE:
            self.add(path, "out_of_range", min=-MAX_MAGNITUDE, max=MAX_MAGNITUDE)
            return None
        return float(value)

    def moment(self, value: Any, path: str, *, date_allowed: bool) -> datetime | None:
        raw = self.text(value, path, required=True, limit=40)
        if not raw:
            return None
        if date_allowed and _DATE.match(raw):
            try:
                day = datetime.strptime(raw, "%Y-%m-%d").date()
            except ValueError:
                self.add(path, "invalid_date")
                return None
            found = datetime.combine(day, time(), tzinfo=SHANGHAI)
        elif _DATETIME.match(raw):
            try:
                found = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                self.add(path, "invalid_date")
                return None
        else:
            self.add(path, "timezone_missing" if _NAIVE.match(raw) else "invalid_date")
            return None
        if found.year < 1900:
            self.add(path, "invalid_date")
            return None
        if found > self.now + CLOCK_SKEW:
            self.add(path, "in_future")
            return None
        return found.astimezone(UTC)

    def concept(self, value: Any, path: str) -> tuple[str, str, str]:
        """(system, code, text) of a CodeableConcept: the LOINC coding if there is one, else the first."""
        found = self.obj(value, path)
        if found is None:
            return "", "", ""
        codings: list[tuple[str, str, str]] = []
        for index, item in enumerate(self.array(found.get("coding"), path + "/coding", limit=10)):
            where = f"{path}/coding/{index}"
            coding = self.obj(item, where)
            if coding is None:
                continue
            system = self.text(coding.get("system"), where + "/system")
            code = self.text(coding.get("code"), where + "/code", limit=64)
            display = self.text(coding.get("display"), where + "/display")
            if system == LOINC and code and not loinc_valid(code):
                self.add(where + "/code", "invalid_loinc")
            codings.append((system, code, display))
        text = self.text(found.get("text"), path + "/text")
        chosen = next((c for c in codings if c[0] == LOINC), codings[0] if codings else ("", "", ""))
        shown = text or chosen[2] or chosen[1]
        if not shown:
            self.add(path + "/text", "required")
        return chosen[0], chosen[1], shown

    def local_id(self, value: Any, path: str) -> int | None:
        """A platform id given as 123 or "123"."""
        if isinstance(value, bool) or value is None:
            self.add(path, "required" if value is None else "wrong_type", expected="string")
            return None
        raw = str(value) if isinstance(value, int) else value
        if not isinstance(raw, str) or not _DIGITS.match(raw.strip()) or int(raw) > MAX_ID:
            self.add(path, "invalid_value", allowed="1–" + str(MAX_ID))
            return None
        return int(raw)

    def reference_id(self, value: Any, path: str, resource: str) -> int | None:
        """An id from {"reference": "<resource>/<id>"} or {"identifier": {"value": id}} / {"identifier": id}."""
        found = self.obj(value, path)
        if found is None:
            return None
        if "reference" in found:
            ref = self.text(found.get("reference"), path + "/reference", required=True, limit=100)
            prefix = resource + "/"
            if ref and not ref.startswith(prefix):
                self.add(path + "/reference", "invalid_reference", expected=prefix + "<id>")
                return None
            return self.local_id(ref[len(prefix) :], path + "/reference") if ref else None
        identifier = found.get("identifier")
        if isinstance(identifier, dict):
            return self.local_id(identifier.get("value"), path + "/identifier/value")
        return self.local_id(identifier, path + "/identifier")

    def identifier(self, value: Any, path: str) -> str:
        """The hospital's report number: a string, an Identifier, or the first of a list of them."""
        if isinstance(value, list):
            if not value:
                self.add(path, "required")
                return ""
            value, path = value[0], path + "/0"
        if isinstance(value, dict):
            return self.text(value.get("value"), path + "/value", required=True, limit=64)
        if value is not None and not isinstance(value, str):
            self.add(path, "wrong_type", expected="string or Identifier")
            return ""
        return self.text(value, path, required=True, limit=64)

    def quantity_bound(self, value: Any, path: str) -> tuple[float | None, str]:
        """A range bound: a SimpleQuantity {value, unit, code} or a bare number; (value, its unit)."""
        if value is None:
            return None, ""
        if isinstance(value, dict):
            number = self.number(value.get("value"), path + "/value")
            system = self.text(value.get("system"), path + "/system")
            if system and system != UCUM:
                self.add(path + "/system", "unit_system")
            code = self.text(value.get("code"), path + "/code", limit=40)
            unit = self.text(value.get("unit"), path + "/unit", limit=40)
            return number, code or unit
        if isinstance(value, int | float | str | _NotANumber) and not isinstance(value, bool):
            return self.number(value, path), ""
        self.add(path, "wrong_type", expected="number or Quantity")
        return None, ""

    def observation(self, item: dict[str, Any], path: str) -> ObservationFacts | None:
        before = len(self.problems)
        system, code, code_text = self.concept(item.get("code"), path + "/code")
        others = sorted(
            key for key in item if key.startswith("value") and key not in ("valueQuantity", "valueString")
        )
        for key in others:
            self.add(f"{path}/{key}", "unsupported_value")
        value: float | None = None
        value_text: str | None = None
        unit = ucum_code = ""
        has_quantity, has_string = item.get("valueQuantity") is not None, item.get("valueString") is not None
        if has_quantity and has_string:
            self.add(path, "ambiguous_value")
        elif has_quantity:
            quantity = self.obj(item["valueQuantity"], path + "/valueQuantity")
            if quantity is not None:
                where = path + "/valueQuantity"
                value = self.number(quantity.get("value"), where + "/value")
                if quantity.get("comparator") is not None:
                    self.add(where + "/comparator", "unsupported_value")
                unit = self.text(quantity.get("unit"), where + "/unit", limit=40)
                system_given = self.text(quantity.get("system"), where + "/system")
                if system_given and system_given != UCUM:
                    self.add(where + "/system", "unit_system")
                ucum_code = self.text(quantity.get("code"), where + "/code", limit=40)
                if not unit and not ucum_code:
                    self.add(where + "/unit", "unit_missing")
        elif has_string:
            value_text = self.text(item.get("valueString"), path + "/valueString", required=True, limit=500)
        elif not others:
            self.add(path + "/valueQuantity", "required")
        low = high = None
        range_text = range_unit = ""
        for index, entry in enumerate(
            self.array(item.get("referenceRange"), path + "/referenceRange", limit=MAX_RANGES)
        ):
            where = f"{path}/referenceRange/{index}"
            found = self.obj(entry, where)
            if found is None:
                continue
            bound_low, low_unit = self.quantity_bound(found.get("low"), where + "/low")
            bound_high, high_unit = self.quantity_bound(found.get("high"), where + "/high")
            text = self.text(found.get("text"), where + "/text")
            if found.get("low") is None and found.get("high") is None and not text:
                self.add(where, "empty")
            if bound_low is not None and bound_high is not None and bound_low > bound_high:
                self.add(where, "range_inverted", low=_show(bound_low), high=_show(bound_high))
            value_unit = ucum_code or unit
            for bound_unit, name in ((low_unit, "low"), (high_unit, "high")):
                if bound_unit and value_unit and bound_unit not in (ucum_code, unit):
                    self.add(f"{where}/{name}", "unit_mismatch", range_unit=bound_unit, value_unit=value_unit)
            # FHIR allows ranges for several populations (appliesTo); the first one is the one applied.
            if index == 0:
                low, high, range_text, range_unit = bound_low, bound_high, text, low_unit or high_unit
        interpretation = ""
        for index, entry in enumerate(
            self.array(item.get("interpretation"), path + "/interpretation", limit=5)
        ):
            where = f"{path}/interpretation/{index}"
            concept = self.obj(entry, where)
            if concept is None:
                continue
            for number, coding in enumerate(self.array(concept.get("coding"), where + "/coding", limit=5)):
                found_coding = self.obj(coding, f"{where}/coding/{number}")
                if found_coding is not None and not interpretation:
                    interpretation = self.text(
                        found_coding.get("code"), f"{where}/coding/{number}/code", limit=16
                    )
        if len(self.problems) > before:
            return None
        return ObservationFacts(
            code_system=system,
            code=code,
            code_text=code_text,
            value=value,
            value_text=value_text,
            unit=unit,
            ucum_code=ucum_code,
            low=low,
            high=high,
            range_text=range_text,
            interpretation=interpretation,
            range_unit=range_unit,
        )

    def observations(self, body: dict[str, Any]) -> list[ObservationFacts]:
        contained: dict[str, tuple[dict[str, Any], str]] = {}
        contained_order: list[tuple[dict[str, Any], str]] = []
        for index, item in enumerate(self.array(body.get("contained"), "/contained", limit=MAX_OBSERVATIONS)):
            where = f"/contained/{index}"
            resource = self.obj(item, where)
            if resource is None or resource.get("resourceType") != "Observation":
                continue  # a Specimen or other contained resource: not ours to read
            contained_order.append((resource, where))
            local = resource.get("id")
            if local is not None:
                if not isinstance(local, str) or not local.strip():
                    self.add(where + "/id", "wrong_type", expected="string")
                elif local in contained:
                    self.add(where + "/id", "duplicate_id")
                else:
                    contained[local] = (resource, where)
        chosen: list[tuple[dict[str, Any], str]] = []
        results = self.array(body.get("result"), "/result", limit=MAX_OBSERVATIONS)
        if not results:
            chosen = contained_order
        seen: set[str] = set()
        for index, item in enumerate(results):
            where = f"/result/{index}"
            entry = self.obj(item, where)
            if entry is None:
                continue
            if "resourceType" in entry:
                if entry.get("resourceType") != "Observation":
                    self.add(where + "/resourceType", "invalid_value", allowed="Observation")
                    continue
                chosen.append((entry, where))
                continue
            ref = self.text(entry.get("reference"), where + "/reference", required=True, limit=100)
            if not ref:
                continue
            if not ref.startswith("#"):
                self.add(where + "/reference", "invalid_reference", expected="#<contained id>")
            elif ref[1:] not in contained:
                self.add(where + "/reference", "unresolved_reference", target=ref)
            elif ref in seen:
                self.add(where + "/reference", "duplicate_reference")
            else:
                seen.add(ref)
                chosen.append(contained[ref[1:]])
        read = [self.observation(resource, where) for resource, where in chosen]
        return [found for found in read if found is not None]


def _show(value: float) -> str:
    return show_number(value)


def show_number(value: float) -> str:
    """A value as people write it: 12 not 12.0, 5.1 not 5.1000000000000005 (repr is the shortest round-trip)."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _reject_constant(_name: str) -> _NotANumber:
    return _NAN


def load_json(raw: bytes) -> tuple[Any, list[Problem]]:
    """The pushed JSON, or the problem that stops reading it."""
    if len(raw) > MAX_BODY_BYTES:
        return None, [problem("", "too_large", max=MAX_BODY_BYTES)]
    try:
        return json.loads(raw, parse_constant=_reject_constant), []
    except (ValueError, RecursionError):
        return None, [problem("", "invalid_json")]


def read_report(raw: bytes, *, kind: ReportKind, now: datetime) -> tuple[ReportFacts | None, list[Problem]]:
    """Reads a pushed DiagnosticReport; returns the facts, or None and every problem found."""
    document, problems = load_json(raw)
    if problems:
        return None, problems
    reader = _Reader(now)
    body = reader.obj(document, "")
    if body is None:
        return None, reader.problems
    kind_name = body.get("resourceType")
    if kind_name is None:
        reader.add("/resourceType", "required")
    elif kind_name != "DiagnosticReport":
        reader.add("/resourceType", "invalid_value", allowed="DiagnosticReport")
    identifier = reader.identifier(body.get("identifier"), "/identifier")
    status_raw = reader.text(body.get("status"), "/status", required=True, limit=20)
    status = None
    if status_raw:
        try:
            status = ReportStatus(status_raw)
        except ValueError:
            reader.add("/status", "invalid_value", allowed=", ".join(s.value for s in ReportStatus))
    code_system, code, code_text = reader.concept(body.get("code"), "/code")
    patient_id = reader.reference_id(body.get("subject"), "/subject", "Patient")
    hospital_id = None
    performers = reader.array(body.get("performer"), "/performer", limit=10)
    for index, item in enumerate(performers):
        if isinstance(item, dict) and str(item.get("reference", "")).startswith("Organization/"):
            hospital_id = reader.reference_id(item, f"/performer/{index}", "Organization")
            break
        if isinstance(item, dict) and "identifier" in item:
            hospital_id = reader.reference_id(item, f"/performer/{index}", "Organization")
            break
    effective = reader.moment(body.get("effectiveDateTime"), "/effectiveDateTime", date_allowed=True)
    issued = reader.moment(body.get("issued"), "/issued", date_allowed=False)
    if effective is not None and issued is not None and effective > issued:
        reader.add("/effectiveDateTime", "after_issued")
    conclusion = reader.text(
        body.get("conclusion"), "/conclusion", required=kind is ReportKind.imaging, limit=5000
    )
    observations = reader.observations(body)
    if (
        kind is ReportKind.lab
        and not observations
        and not any(p.path.startswith(("/result", "/contained")) for p in reader.problems)
    ):
        reader.add("/result", "observations_required")
    if reader.problems:
        return None, reader.problems
    assert status is not None and patient_id is not None and effective is not None and issued is not None
    return (
        ReportFacts(
            kind=kind,
            identifier=identifier,
            status=status,
            code_system=code_system,
            code=code,
            code_text=code_text,
            patient_id=patient_id,
            hospital_id=hospital_id,
            effective_at=effective,
            issued_at=issued,
            conclusion=conclusion,
            observations=tuple(observations),
        ),
        [],
    )


# ---- writing FHIR -----------------------------------------------------------------------------------


def instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


OBSERVATION_STATUS = {
    # Observation.status has no "partial": a partial report's results are preliminary.
    ReportStatus.partial: "preliminary",
}

INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


def _concept_out(system: str, code: str, text: str) -> dict[str, Any]:
    concept: dict[str, Any] = {"text": text}
    if code:
        concept["coding"] = [{"system": system, "code": code, "display": text} if system else {"code": code}]
    return concept


def _quantity(value: float, unit: str, ucum_code: str) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": value}
    if unit or ucum_code:
        quantity["unit"] = unit or ucum_code
    if ucum_code:
        quantity["system"] = UCUM
        quantity["code"] = ucum_code
    return quantity


_CATEGORY = {
    ReportKind.lab: ("LAB", "Laboratory"),
    ReportKind.imaging: ("RAD", "Radiology"),
}
_FLAG_CODES = {"H": "High", "L": "Low", "N": "Normal"}


def _observation_out(view: ReportOut, item: ObservationOut) -> dict[str, Any]:
    status = OBSERVATION_STATUS.get(view.status, view.status.value)
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"obs-{item.position}",
        "status": status,
        "code": _concept_out(item.code_system, item.code, item.code_text),
        "subject": {"reference": f"Patient/{view.patient_id}"},
        "effectiveDateTime": instant(view.effective_at),
        "issued": instant(view.issued_at),
    }
    if item.value is not None:
        resource["valueQuantity"] = _quantity(item.value, item.unit, item.ucum_code)
    else:
        resource["valueString"] = item.value_text or ""
    if item.low is not None or item.high is not None or item.range_text:
        reference: dict[str, Any] = {}
        if item.low is not None:
            reference["low"] = _quantity(item.low, item.unit, item.ucum_code)
        if item.high is not None:
            reference["high"] = _quantity(item.high, item.unit, item.ucum_code)
        if item.range_text:
            reference["text"] = item.range_text
        resource["referenceRange"] = [reference]
    if item.flag.value in _FLAG_CODES:
        resource["interpretation"] = [
            {
                "coding": [
                    {
                        "system": INTERPRETATION,
                        "code": item.flag.value,
                        "display": _FLAG_CODES[item.flag.value],
                    }
                ]
            }
        ]
    else:
        # FHIR has no code for "no reference range"; say it in words rather than imply normal.
        resource["interpretation"] = [{"text": "no reference range"}]
    return resource


def diagnostic_report(view: ReportOut) -> dict[str, Any]:
    """A stored report as a FHIR R4 DiagnosticReport, its Observations contained and referenced."""
    category_code, category_name = _CATEGORY[view.kind]
    observations = [_observation_out(view, item) for item in view.observations]
    resource: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": str(view.id),
        "meta": {"versionId": str(view.version)},
        "identifier": [{"system": f"urn:regio:hospital:{view.hospital_id}:report", "value": view.identifier}],
        "status": view.status.value,
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v2-0074",
                        "code": category_code,
                        "display": category_name,
                    }
                ]
            }
        ],
        "code": _concept_out(view.code_system, view.code, view.code_text),
        "subject": {"reference": f"Patient/{view.patient_id}"},
        "performer": [{"reference": f"Organization/{view.hospital_id}", "display": view.hospital_name}],
        "effectiveDateTime": instant(view.effective_at),
        "issued": instant(view.issued_at),
    }
    if observations:
        resource["contained"] = observations
        resource["result"] = [{"reference": f"#{item['id']}"} for item in observations]
    if view.conclusion:
        resource["conclusion"] = view.conclusion
    return resource
