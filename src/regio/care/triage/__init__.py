"""Regio Care triage: a short questionnaire that recommends a department and an urgency, and sends red flags offline."""
