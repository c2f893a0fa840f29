"""Regio Risk CAP 1.2: alerts in and out, validated against the OASIS schema, and Atom feeds."""
