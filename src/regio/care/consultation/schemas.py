"""Request and response shapes of the consultation API (and the views its pages render)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from regio.care.consultation.enums import Mode, Urgency
from regio.core.db import MAX_ID

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
ClientMsgId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class FromAppointmentIn(_In):
    appointment_id: Id
    urgency: Urgency = Urgency.routine


class QuickQuestionIn(_In):
    patient_id: Id
    hospital_id: Id
    department_code: str = Field(min_length=1, max_length=32)
    text: str = Field(min_length=1, max_length=2000)
    mode: Mode = Mode.text
    urgency: Urgency = Urgency.routine
    triage_assessment_id: Id | None = None


class MessageIn(_In):
    body: str = Field(max_length=4000)
    client_msg_id: ClientMsgId | None = None


class ReadIn(_In):
    seq: int = Field(ge=0, le=2**31 - 1)


class CallIn(_In):
    mode: Literal["voice", "video"]


class ConsultationOut(BaseModel):
    id: int
    patient_id: int
    patient_name: str = ""
    requester_user_id: int
    doctor_id: int
    doctor_name: str = ""
    hospital_id: int
    department_code: str
    mode: str
    source: str
    appointment_id: int | None
    quick_question_id: int | None
    status: str
    urgency: str
    complaint: str
    scheduled_at: datetime
    scheduled_local: str
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    last_seq: int
    patient_read_seq: int
    doctor_read_seq: int
    my_side: str | None = None
    queue_position: int | None = None  # 1 = next; for a waiting consultation
    expected_wait_minutes: int | None = None


class QueueOut(BaseModel):
    doctor_id: int
    average_minutes: float
    items: list[ConsultationOut]


class QuickQuestionOut(BaseModel):
    id: int
    patient_id: int
    hospital_id: int
    department_code: str
    mode: str
    urgency: str
    text: str
    status: str
    created_at: datetime
    widened_at: datetime | None
    accepted_doctor_id: int | None
    consultation_id: int | None = None


class AttachmentOut(BaseModel):
    id: int
    consultation_id: int
    sha256: str
    content_type: str
    size_bytes: int
    file_name: str
    url: str


class MessageOut(BaseModel):
    consultation_id: int
    seq: int
    sender_side: str
    sender_user_id: int | None
    kind: str
    body: str
    client_msg_id: str | None
    attachment: AttachmentOut | None = None
    created_at: datetime

    def frame(self) -> dict[str, Any]:
        return {"type": "message", **self.model_dump(mode="json")}


class CallOut(BaseModel):
    id: int
    consultation_id: int
    mode: str
    status: str
    started_by_user_id: int
    started_at: datetime
    connected_at: datetime | None
    ended_at: datetime | None
    duration_seconds: int | None


class IceServer(BaseModel):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class IceOut(BaseModel):
    ice_servers: list[IceServer]
    expires_at: int | None = None
