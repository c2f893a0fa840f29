"""Demo data of reports: a blood count (one value high) and a chest X-ray for each demo patient, pushed
by the platform on the demo hospital's behalf through the same path as a hospital's push.

The values are fictional; the reference ranges are the Chinese adult ones of WS/T 405-2012
(血细胞分析参考区间), and the codes are LOINC's.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from regio.care.reports import service
from regio.care.reports.enums import ReportKind
from regio.config import Settings

UCUM_SYSTEM = "http://unitsofmeasure.org"

# (LOINC, name, value, display unit, UCUM code, low, high); the white cell count is the high one.
BLOOD_COUNT = [
    ("6690-2", "白细胞计数 WBC", 11.2, "×10⁹/L", "10*9/L", 3.5, 9.5),
    ("770-8", "中性粒细胞百分比 NEUT%", 72.4, "%", "%", 40, 75),
    ("736-9", "淋巴细胞百分比 LYMPH%", 21.5, "%", "%", 20, 50),
    ("777-3", "血小板计数 PLT", 236, "×10⁹/L", "10*9/L", 125, 350),
]


def _bound(value: float, unit: str, code: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM_SYSTEM, "code": code}


def blood_count(patient_id: int, hospital_id: int) -> dict[str, Any]:
    contained = [
        {
            "resourceType": "Observation",
            "id": f"o{n}",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": loinc}], "text": name},
            "valueQuantity": _bound(value, unit, code),
            "referenceRange": [{"low": _bound(low, unit, code), "high": _bound(high, unit, code)}],
        }
        for n, (loinc, name, value, unit, code, low, high) in enumerate(BLOOD_COUNT, start=1)
    ]
    return {
        "resourceType": "DiagnosticReport",
        "identifier": [{"system": "urn:demo:lis", "value": f"DEMO-LAB-{patient_id}"}],
        "status": "final",
        "code": {
            "coding": [{"system": "http://loinc.org", "code": "58410-2", "display": "CBC panel"}],
            "text": "血常规",
        },
        "subject": {"identifier": {"value": str(patient_id)}},
        "performer": [{"reference": f"Organization/{hospital_id}"}],
        "effectiveDateTime": "2026-11-20T08:10:00+08:00",
        "issued": "2026-11-20T10:45:00+08:00",
        "contained": contained,
        "result": [{"reference": f"#{item['id']}"} for item in contained],
    }


def chest_xray(patient_id: int, hospital_id: int) -> dict[str, Any]:
    return {
        "resourceType": "DiagnosticReport",
        "identifier": [{"system": "urn:demo:pacs", "value": f"DEMO-RAD-{patient_id}"}],
        "status": "final",
        "code": {
            "coding": [{"system": "http://loinc.org", "code": "36643-5", "display": "XR Chest 2 Views"}],
            "text": "胸部X线正侧位片",
        },
        "subject": {"identifier": {"value": str(patient_id)}},
        "performer": [{"reference": f"Organization/{hospital_id}"}],
        "effectiveDateTime": "2026-11-21T09:20:00+08:00",
        "issued": "2026-11-21T14:05:00+08:00",
        "conclusion": "双肺纹理清晰，未见明确实质性病变；心影大小形态未见异常；双侧膈面光整，肋膈角锐利。",
    }


async def load_demo(
    *, session: AsyncSession, settings: Settings, patient_ids: list[int], hospital_id: int
) -> None:
    """Pushes both reports for each patient; running it again stores nothing new (same content)."""
    for patient_id in patient_ids:
        for kind, body in (
            (ReportKind.lab, blood_count(patient_id, hospital_id)),
            (ReportKind.imaging, chest_xray(patient_id, hospital_id)),
        ):
            raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
            await service.push(session=session, principal=service.SYSTEM, kind=kind, raw=raw)
