"""Registry tables (placeholder)."""
