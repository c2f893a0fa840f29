"""CAP fixtures: the same as the events tests'."""

from tests.risk.events.fixtures import app, geo, hz_officer, make_headers, shared_index, zj_ah_bundle

__all__ = ["app", "geo", "hz_officer", "make_headers", "shared_index", "zj_ah_bundle"]
