"""Imports every models module so that Base.metadata knows every table (Alembic, tests)."""

from regio.care.booking import models as booking_models
from regio.care.patients import models as patients_models
from regio.care.registry import models as registry_models
from regio.core import audit, idempotency, jobs, outbox, webhooks
from regio.core.identity import models as identity_models
from regio.risk.geography import models as geography_models

__all__ = [
    "audit",
    "booking_models",
    "geography_models",
    "idempotency",
    "identity_models",
    "jobs",
    "outbox",
    "patients_models",
    "registry_models",
    "webhooks",
]
