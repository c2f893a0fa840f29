"""Regio Care consultations: life cycle, quick questions, text chat, calls."""
