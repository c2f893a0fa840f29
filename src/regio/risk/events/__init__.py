"""Regio Risk events: risk reports and emergency events, their updates, cancellations and duplicates."""
