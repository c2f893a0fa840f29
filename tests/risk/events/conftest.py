"""Events fixtures (shared with the CAP tests through tests/risk/events/fixtures.py)."""

from tests.risk.events.fixtures import app, geo, hz_officer, make_headers, shared_index, zj_ah_bundle

__all__ = ["app", "geo", "hz_officer", "make_headers", "shared_index", "zj_ah_bundle"]
