"""Imports every models module so that Base.metadata knows every table (Alembic, tests)."""

from regio.care.booking import models as booking_models
from regio.care.consultation import models as consultation_models
from regio.care.patients import models as patients_models
from regio.care.payment import models as payment_models
from regio.care.prescription import models as prescription_models
from regio.care.records import models as records_models
from regio.care.registry import models as registry_models
from regio.care.reports import models as reports_models
from regio.care.scales import models as scales_models
from regio.care.triage import models as triage_models
from regio.core import audit, idempotency, jobs, outbox, webhooks
from regio.core.identity import models as identity_models
from regio.risk.events import models as events_models
from regio.risk.geography import models as geography_models
from regio.risk.spillover import models as spillover_models
from regio.risk.warnings import models as warnings_models

__all__ = [
    "audit",
    "booking_models",
    "consultation_models",
    "events_models",
    "geography_models",
    "idempotency",
    "identity_models",
    "jobs",
    "outbox",
    "patients_models",
    "payment_models",
    "prescription_models",
    "records_models",
    "registry_models",
    "reports_models",
    "scales_models",
    "spillover_models",
    "triage_models",
    "warnings_models",
    "webhooks",
]
