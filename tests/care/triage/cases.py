"""Triage answers for tests: the four patient questions of the issue, and one case per rule."""

from __future__ import annotations

from typing import Any

# The adult with 4 days of fever above 38.5 °C.
ADULT_FEVER_4_DAYS: dict[str, Any] = {
    "age_years": 34,
    "sex": "male",
    "temperature_c": 38.8,
    "fever_days": 4,
    "symptoms": ["fever", "cough", "muscle_aches"],
}
# The pregnant woman asking which antipyretic is safest.
PREGNANT_ANTIPYRETIC: dict[str, Any] = {
    "age_years": 29,
    "sex": "female",
    "pregnant": True,
    "temperature_c": 38.2,
    "fever_days": 1,
    "symptoms": ["fever", "medication_question"],
}
# The listless child after the fever went down.
LISTLESS_CHILD: dict[str, Any] = {
    "age_years": 4,
    "sex": "female",
    "temperature_c": 36.9,
    "fever_days": 2,
    "symptoms": ["lethargy", "poor_feeding"],
}
# The parents' long-term medication.
PARENT_REPEAT_PRESCRIPTION: dict[str, Any] = {
    "age_years": 68,
    "sex": "male",
    "symptoms": ["medication_refill"],
    "chronic_conditions": ["hypertension", "hyperlipidemia"],
}

ADULT = {"age_years": 40, "sex": "female"}
CHILD = {"age_years": 5, "sex": "male"}

# Every rule of the rule file with answers that make it fire (and, for routes, decide).
RULE_CASES: dict[str, dict[str, Any]] = {
    "RF-BREATHING": {**ADULT, "symptoms": ["breathing_difficulty", "cough"]},
    "RF-BREATHING-CHILD": {**CHILD, "symptoms": ["breathing_difficulty"]},
    "RF-SPO2": {**ADULT, "spo2": 93, "symptoms": ["cough"]},
    "RF-CHEST-PAIN": {**ADULT, "symptoms": ["chest_pain"]},
    "RF-CHILD-LETHARGY": LISTLESS_CHILD,
    "RF-ALTERED-CONSCIOUSNESS": {**ADULT, "symptoms": ["altered_consciousness"]},
    "RF-INFANT-FEVER": {"age_months": 2, "sex": "male", "temperature_c": 38.0, "fever_days": 1},
    "RF-HIGH-FEVER-PERSISTENT": {**ADULT, "temperature_c": 39.0, "fever_days": 4, "symptoms": ["fever"]},
    "RF-HIGH-FEVER-PERSISTENT-CHILD": {**CHILD, "temperature_c": 39.4, "fever_days": 5},
    "RF-PREGNANCY-BLEEDING": {**ADULT, "pregnant": True, "symptoms": ["vaginal_bleeding"]},
    "RT-FEVER-PERSISTENT-CHILD": {**CHILD, "temperature_c": 38.7, "fever_days": 4},
    "RT-FEVER-PERSISTENT": ADULT_FEVER_4_DAYS,
    "RT-CHILD-POOR-FEEDING": {**CHILD, "symptoms": ["poor_feeding"]},
    "RT-PREGNANCY-MEDICATION": PREGNANT_ANTIPYRETIC,
    "RT-BREASTFEEDING-MEDICATION": {**ADULT, "breastfeeding": True, "symptoms": ["medication_question"]},
    "RT-PREGNANCY": {**ADULT, "pregnant": True, "symptoms": ["headache"]},
    "RT-REFILL-CARDIO": PARENT_REPEAT_PRESCRIPTION,
    "RT-REFILL-DIABETES": {**ADULT, "symptoms": ["medication_refill"], "chronic_conditions": ["diabetes"]},
    "RT-REFILL-RESPIRATORY": {**ADULT, "symptoms": ["medication_refill"], "chronic_conditions": ["asthma"]},
    "RT-REFILL": {**ADULT, "symptoms": ["medication_refill"], "chronic_conditions": ["stroke_history"]},
    "RT-CHILD-FEVER": {**CHILD, "temperature_c": 38.3, "fever_days": 1},
    "RT-CHILD": {**CHILD, "symptoms": ["rash"]},
    "RT-FEVER": {**ADULT, "temperature_c": 37.8, "fever_days": 1},
    "RT-RESPIRATORY": {**ADULT, "symptoms": ["cough"]},
    "RT-THROAT-NOSE": {**ADULT, "symptoms": ["sore_throat"]},
    "RT-PALPITATIONS": {**ADULT, "symptoms": ["palpitations"]},
    "RT-DIGESTIVE": {**ADULT, "symptoms": ["diarrhea"]},
    "RT-SKIN": {**ADULT, "symptoms": ["rash"]},
    "RT-NEURO": {**ADULT, "symptoms": ["dizziness"]},
    "RT-MOOD": {**ADULT, "symptoms": ["low_mood"]},
    "NOTE-PREGNANT": {**ADULT, "pregnant": True},
    "NOTE-BREASTFEEDING": {**ADULT, "breastfeeding": True},
    "NOTE-UNDER-SIX": {**CHILD},
    "NOTE-NO-TEMPERATURE": {**ADULT, "symptoms": ["fever"]},
    "RT-DEFAULT": {**ADULT, "symptoms": ["fatigue"]},
}
