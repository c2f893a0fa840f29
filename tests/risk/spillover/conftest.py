"""Spill-over fixtures: Hubei's boundaries (the Yangtze and the Han meet at Wuhan), read once per run."""

from __future__ import annotations

import pytest

from regio.core.db import Database
from regio.risk.geography import loader
from regio.risk.geography import service as geography_service
from regio.risk.geography.engine import GeographyIndex, IndexHolder

HUBEI = ("42",)


@pytest.fixture(scope="session")
def hubei_bundle() -> loader.GeographyBundle:
    return loader.load_bundle(HUBEI)


@pytest.fixture(scope="session")
def hubei_index(hubei_bundle: loader.GeographyBundle) -> GeographyIndex:
    return GeographyIndex.build(
        [
            (j.level.value, j.adcode, j.name, j.parent_adcode, j.area_km2, j.geometry)
            for j in hubei_bundle.jurisdictions
        ]
    )


@pytest.fixture
async def loaded(db: Database, hubei_bundle: loader.GeographyBundle) -> geography_service.LoadSummary:
    async with db.session() as session:
        return await geography_service.load_geography(
            session=session, principal=geography_service.SYSTEM, bundle=hubei_bundle
        )


@pytest.fixture
def holder() -> IndexHolder:
    return IndexHolder()


def names(found: list) -> list[str]:  # type: ignore[type-arg]
    """Names in the order given (the models answer earliest first)."""
    return [item.name for item in found]
