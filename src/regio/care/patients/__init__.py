"""Patients (real-name identity) and the family members bound to an account."""
