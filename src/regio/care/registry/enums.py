"""Enum-like values of the registry, stored as strings and guarded by check constraints."""

from __future__ import annotations

from enum import StrEnum


class HospitalStatus(StrEnum):
    approved = "approved"
    suspended = "suspended"  # 暂停: may be reinstated
    revoked = "revoked"  # 注销/吊销: final


class HospitalLevel(StrEnum):
    """医院等级 under 医院分级管理办法 (1989): grade 一/二/三级, class 甲/乙/丙等; 未定级 when not yet rated."""

    grade3_special = "三级特等"
    grade3_a = "三级甲等"
    grade3_b = "三级乙等"
    grade3_c = "三级丙等"
    grade2_a = "二级甲等"
    grade2_b = "二级乙等"
    grade2_c = "二级丙等"
    grade1_a = "一级甲等"
    grade1_b = "一级乙等"
    grade1_c = "一级丙等"
    unrated = "未定级"


LEVEL_EN = {
    HospitalLevel.grade3_special: "Grade III Special",
    HospitalLevel.grade3_a: "Grade III Class A",
    HospitalLevel.grade3_b: "Grade III Class B",
    HospitalLevel.grade3_c: "Grade III Class C",
    HospitalLevel.grade2_a: "Grade II Class A",
    HospitalLevel.grade2_b: "Grade II Class B",
    HospitalLevel.grade2_c: "Grade II Class C",
    HospitalLevel.grade1_a: "Grade I Class A",
    HospitalLevel.grade1_b: "Grade I Class B",
    HospitalLevel.grade1_c: "Grade I Class C",
    HospitalLevel.unrated: "Not yet rated",
}


class DoctorTitle(StrEnum):
    """医师专业技术职称, highest first."""

    chief = "主任医师"
    associate_chief = "副主任医师"
    attending = "主治医师"
    resident = "住院医师"


TITLE_EN = {
    DoctorTitle.chief: "Chief physician",
    DoctorTitle.associate_chief: "Associate chief physician",
    DoctorTitle.attending: "Attending physician",
    DoctorTitle.resident: "Resident physician",
}
