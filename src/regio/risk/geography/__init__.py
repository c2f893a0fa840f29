"""China's jurisdictions, their shared borders, coordination bodies and hazard-to-jurisdiction matching."""
