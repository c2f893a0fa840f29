"""Hash-chained audit trail (placeholder until audit lands)."""
