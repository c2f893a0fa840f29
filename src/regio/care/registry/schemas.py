"""Request and response shapes of the registry API (and the views pages render).

Coded fields (level, status, city, departments, title) arrive as plain strings and are checked by
the service, so that the API and the CSV import refuse them with the same stable codes.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from regio.core.db import MAX_ID

# Ids are BIGINT on PostgreSQL; a larger number must be refused as input, not overflow the driver.
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
DepartmentName = Annotated[str, Field(max_length=100)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class HospitalIn(_In):
    name: str = Field(max_length=400)
    name_en: str | None = Field(default=None, max_length=600)
    level: str = Field(max_length=40)
    city_adcode: str = Field(max_length=40)
    address: str = Field(default="", max_length=600)
    licence_no: str = Field(max_length=200)
    licence_valid_from: date
    licence_valid_to: date
    status: str = Field(default="approved", max_length=40)
    department_codes: list[DepartmentName] = Field(default_factory=list, max_length=100)


class HospitalPatch(_In):
    """Any subset; status moves between approved and suspended, or to revoked for good."""

    status: str | None = Field(default=None, max_length=40)
    name: str | None = Field(default=None, max_length=400)
    name_en: str | None = Field(default=None, max_length=600)
    level: str | None = Field(default=None, max_length=40)
    city_adcode: str | None = Field(default=None, max_length=40)
    address: str | None = Field(default=None, max_length=600)
    licence_valid_from: date | None = None
    licence_valid_to: date | None = None
    reason: str | None = Field(default=None, max_length=500, description="Why; kept in the audit trail.")


class DepartmentsIn(_In):
    department_codes: list[DepartmentName] = Field(min_length=1, max_length=100)


class DoctorIn(_In):
    real_name: str = Field(max_length=200)
    licence_no: str = Field(max_length=200)
    title: str = Field(max_length=40)
    independent_practice_since: date
    real_name_verified: bool = False
    hospital_id: Id
    department_codes: list[DepartmentName] = Field(min_length=1, max_length=20)
    user_id: Id | None = None


class PracticeSiteIn(_In):
    hospital_id: Id
    department_code: str = Field(max_length=100)


class PharmacistIn(_In):
    real_name: str = Field(max_length=200)
    licence_no: str = Field(max_length=200)
    hospital_id: Id
    user_id: Id | None = None


class DepartmentOut(BaseModel):
    code: str
    name_zh: str
    name_en: str
    catalogue_code: str
    around_the_clock: bool


class CityOut(BaseModel):
    adcode: str
    name_zh: str
    name_en: str


class HospitalOut(BaseModel):
    id: int
    name: str
    name_en: str | None
    level: str
    level_en: str
    city_adcode: str
    city_name_zh: str
    city_name_en: str
    region_adcode: str
    address: str
    licence_no: str  # the hospital's internet-hospital licence is public, not personal data
    licence_valid_from: date
    licence_valid_to: date
    status: str
    listed: bool
    version: int
    department_count: int
    departments: list[DepartmentOut]


class HospitalPage(BaseModel):
    items: list[HospitalOut]
    total: int
    page: int
    page_size: int


class PracticeSiteOut(BaseModel):
    hospital_id: int
    hospital_name: str
    department_code: str
    department_name_zh: str
    department_name_en: str


class DoctorOut(BaseModel):
    id: int
    real_name: str
    title: str
    title_en: str
    licence_no: str
    licence_masked: bool
    years_of_practice: int
    real_name_verified: bool
    may_consult_online: bool
    consult_blocks: list[str]
    sites: list[PracticeSiteOut]


class DoctorPage(BaseModel):
    items: list[DoctorOut]
    total: int
    page: int
    page_size: int


class PharmacistOut(BaseModel):
    id: int
    real_name: str
    licence_no: str
    licence_masked: bool
    hospital_id: int
    hospital_name: str
