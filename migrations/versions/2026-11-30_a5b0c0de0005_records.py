"""Records: clinical notes, diagnoses, prior offline diagnoses, first-visit policies

Revision ID: a5b0c0de0005
Revises: a7b0c0de0007
Create Date: 2026-11-30 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import regio.core.db

revision: str = "a5b0c0de0005"
down_revision: str | None = "a7b0c0de0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "records_first_visit_policies",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("region_adcode", sa.String(length=6), nullable=False),
        sa.Column("name_zh", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=False),
        sa.Column("icd10_categories", sa.JSON(), nullable=False),
        sa.Column("symptom_codes", sa.JSON(), nullable=False),
        sa.Column("from_file", sa.Boolean(), nullable=False),
        sa.Column("created_by_user_id", regio.core.db.BigId, nullable=True),
        sa.Column("created_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", regio.core.db.BigId, autoincrement=True, nullable=False),
        sa.CheckConstraint(
            "length(region_adcode) = 6", name=op.f("ck_records_first_visit_policies_region_adcode")
        ),
        sa.CheckConstraint("valid_to >= valid_from", name=op.f("ck_records_first_visit_policies_period")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_records_first_visit_policies_version")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records_first_visit_policies")),
        sa.UniqueConstraint("key", "version", name=op.f("uq_records_first_visit_policies_key_version")),
    )
    with op.batch_alter_table("records_first_visit_policies", schema=None) as batch_op:
        batch_op.create_index(
            "ix_records_first_visit_policies_region", ["region_adcode", "valid_from"], unique=False
        )

    op.create_table(
        "records_clinical_records",
        sa.Column("consultation_id", regio.core.db.BigId, nullable=False),
        sa.Column("patient_id", regio.core.db.BigId, nullable=False),
        sa.Column("doctor_id", regio.core.db.BigId, nullable=False),
        sa.Column("hospital_id", regio.core.db.BigId, nullable=False),
        sa.Column("region_adcode", sa.String(length=6), nullable=False),
        sa.Column("symptom_codes", sa.JSON(), nullable=False),
        sa.Column("guardian_present", sa.Boolean(), nullable=True),
        sa.Column("specialist_present", sa.Boolean(), nullable=True),
        sa.Column("specialist_name", sa.String(length=100), nullable=False),
        sa.Column("attendance_recorded_at", regio.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("created_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", regio.core.db.BigId, autoincrement=True, nullable=False),
        sa.CheckConstraint("latest_version >= 1", name=op.f("ck_records_clinical_records_latest_version")),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultations.id"],
            name=op.f("fk_records_clinical_records_consultation_id_consultations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"],
            ["doctors.id"],
            name=op.f("fk_records_clinical_records_doctor_id_doctors"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["hospital_id"],
            ["hospitals.id"],
            name=op.f("fk_records_clinical_records_hospital_id_hospitals"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_records_clinical_records_patient_id_patients"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records_clinical_records")),
        sa.UniqueConstraint("consultation_id", name=op.f("uq_records_clinical_records_consultation_id")),
    )
    with op.batch_alter_table("records_clinical_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_records_clinical_records_hospital", ["hospital_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_records_clinical_records_patient", ["patient_id", "created_at"], unique=False
        )

    op.create_table(
        "records_prior_diagnoses",
        sa.Column("patient_id", regio.core.db.BigId, nullable=False),
        sa.Column("icd10_code", sa.String(length=8), nullable=False),
        sa.Column("category", sa.String(length=3), nullable=False),
        sa.Column("diagnosed_on", sa.Date(), nullable=False),
        sa.Column("hospital_name", sa.String(length=200), nullable=False),
        sa.Column("hospital_id", regio.core.db.BigId, nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("attachment_ref", sa.String(length=200), nullable=True),
        sa.Column("confirmed_by_doctor_id", regio.core.db.BigId, nullable=True),
        sa.Column("confirmed_at", regio.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("confirmed_in_consultation_id", regio.core.db.BigId, nullable=True),
        sa.Column("created_by_user_id", regio.core.db.BigId, nullable=True),
        sa.Column("created_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", regio.core.db.BigId, autoincrement=True, nullable=False),
        sa.CheckConstraint(
            "source <> 'uploaded_record' OR attachment_ref IS NOT NULL",
            name=op.f("ck_records_prior_diagnoses_upload_has_attachment"),
        ),
        sa.CheckConstraint(
            "source IN ('hospital_record', 'uploaded_record')", name=op.f("ck_records_prior_diagnoses_source")
        ),
        sa.CheckConstraint(
            "(confirmed_by_doctor_id IS NULL) = (confirmed_at IS NULL)",
            name=op.f("ck_records_prior_diagnoses_confirmation_whole"),
        ),
        sa.CheckConstraint("length(category) = 3", name=op.f("ck_records_prior_diagnoses_category")),
        sa.ForeignKeyConstraint(
            ["confirmed_by_doctor_id"],
            ["doctors.id"],
            name=op.f("fk_records_prior_diagnoses_confirmed_by_doctor_id_doctors"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["confirmed_in_consultation_id"],
            ["consultations.id"],
            name=op.f("fk_records_prior_diagnoses_confirmed_in_consultation_id_consultations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["hospital_id"],
            ["hospitals.id"],
            name=op.f("fk_records_prior_diagnoses_hospital_id_hospitals"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_records_prior_diagnoses_patient_id_patients"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records_prior_diagnoses")),
    )
    with op.batch_alter_table("records_prior_diagnoses", schema=None) as batch_op:
        batch_op.create_index("ix_records_prior_diagnoses_patient", ["patient_id", "category"], unique=False)

    op.create_table(
        "records_record_versions",
        sa.Column("record_id", regio.core.db.BigId, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("previous_version_id", regio.core.db.BigId, nullable=True),
        sa.Column("amendment_reason", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("advice", sa.Text(), nullable=False),
        sa.Column("diagnoses", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_by_user_id", regio.core.db.BigId, nullable=True),
        sa.Column("created_at", regio.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("signed_at", regio.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("signed_by_user_id", regio.core.db.BigId, nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("id", regio.core.db.BigId, autoincrement=True, nullable=False),
        sa.CheckConstraint(
            "(signed_at IS NULL) = (content_hash IS NULL) AND (signed_at IS NULL) = (signed_by_user_id IS NULL)",
            name=op.f("ck_records_record_versions_signature_whole"),
        ),
        sa.CheckConstraint("revision >= 0", name=op.f("ck_records_record_versions_revision")),
        sa.CheckConstraint(
            "version = 1 OR previous_version_id IS NOT NULL",
            name=op.f("ck_records_record_versions_amends_previous"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_records_record_versions_version")),
        sa.ForeignKeyConstraint(
            ["previous_version_id"],
            ["records_record_versions.id"],
            name=op.f("fk_records_record_versions_previous_version_id_records_record_versions"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records_clinical_records.id"],
            name=op.f("fk_records_record_versions_record_id_records_clinical_records"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["signed_by_user_id"],
            ["users.id"],
            name=op.f("fk_records_record_versions_signed_by_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records_record_versions")),
        sa.UniqueConstraint(
            "record_id", "version", name=op.f("uq_records_record_versions_record_id_version")
        ),
    )


def downgrade() -> None:
    op.drop_table("records_record_versions")
    op.drop_table("records_prior_diagnoses")
    op.drop_table("records_clinical_records")
    op.drop_table("records_first_visit_policies")
