"""Geography fixtures: the Yangtze River Delta (Shanghai, Jiangsu, Zhejiang, Anhui) read once per run.

Reading and converting the source is the slow part, so the bundle is built once; each test stores
it into its own database through the same service the CLI uses.
"""

from __future__ import annotations

import pytest

from regio.core.db import Database
from regio.risk.geography import loader, service
from regio.risk.geography.engine import GeographyIndex

YRD = ("31", "32", "33", "34")


@pytest.fixture(scope="session")
def yrd_bundle() -> loader.GeographyBundle:
    return loader.load_bundle(YRD)


@pytest.fixture(scope="session")
def yrd_index(yrd_bundle: loader.GeographyBundle) -> GeographyIndex:
    return GeographyIndex.build(
        [
            (j.level.value, j.adcode, j.name, j.parent_adcode, j.area_km2, j.geometry)
            for j in yrd_bundle.jurisdictions
        ]
    )


async def store(db: Database, bundle: loader.GeographyBundle) -> service.LoadSummary:
    async with db.session() as session:
        summary = await service.load_geography(session=session, principal=service.SYSTEM, bundle=bundle)
    async with db.session() as session:
        await service.seed_bodies(session=session, principal=service.SYSTEM)
    return summary


@pytest.fixture
async def loaded(db: Database, yrd_bundle: loader.GeographyBundle) -> service.LoadSummary:
    return await store(db, yrd_bundle)
