"""Transactional outbox (placeholder until outbox lands)."""
