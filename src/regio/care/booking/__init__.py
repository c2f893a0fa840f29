"""Regio Care booking: rosters, department coverage and time-slot booking (分时段预约)."""
