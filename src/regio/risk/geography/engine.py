"""The in-memory matcher: per level, an STRtree over prepared WGS-84 boundaries.

A query first asks the tree which boundaries' boxes meet the hazard, then tests only those
against the prepared (indexed) boundaries, so a point or a 20 km circle against every county of
China costs tens of microseconds. Distances are geodesic: a circle's are measured from its centre
in an azimuthal equidistant projection centred there (exact from the centre on the WGS-84
ellipsoid, as PROJ implements it), other shapes' in one centred on the hazard (within about 0.1%
over a few hundred km); areas for overlap fractions are ellipsoidal (pyproj.Geod).

Two shortcuts skip work without changing an answer: a grid per level (grid.py) answers hazards
that lie at sea or well inside one jurisdiction before any geometry is built or tested, and the
prefectures and provinces that are exactly the union of their children (coverage.py) are answered
through those, so only the counties' boundaries carry edge indexes in memory.
"""

from __future__ import annotations

import asyncio
import ctypes
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from pyproj import Geod, Transformer

from regio.risk.geography import errors
from regio.risk.geography.coverage import exact_unions
from regio.risk.geography.enums import LEVELS, Level
from regio.risk.geography.grid import EMPTY, CellGrid
from regio.risk.geography.hazards import Hazard, circle_bounds, geodesic_circle
from regio.risk.geography.loader import (
    ADJACENCY_GAP_DEG,
    ADJACENCY_SIMPLIFY_DEG,
    MIN_SHARED_BORDER_KM,
    border_km,
)

GEOD = Geod(ellps="WGS84")
# Levels whose prepared boundaries are indexed when the index is built: all of them. The counties'
# edge indexes take about 300 MiB for all of China; most prefectures and provinces are exactly the
# union of their counties (or prefectures) and are answered through them (coverage.py), so the few
# others add some 25 MiB, not the 200 MiB their own indexes would.
WARM_LEVELS: tuple[Level, ...] = LEVELS
# The grid's cells per level (grid.py): about 5 km for counties, coarser for the larger levels.
GRID_CELL_DEG = {Level.county: 0.05, Level.prefecture: 0.1, Level.province: 0.2}


@dataclass(frozen=True, slots=True)
class Entry:
    level: Level
    adcode: str
    name: str
    parent_adcode: str | None
    area_km2: float


@dataclass(frozen=True, slots=True)
class Match:
    adcode: str
    name: str
    level: str
    distance_km: float
    overlap_fraction: float | None = None


@lru_cache(maxsize=512)
def _aeqd(lon: float, lat: float) -> tuple[Transformer, Transformer]:
    """Forward and inverse transformers of an azimuthal equidistant projection centred at (lon, lat)."""
    local = f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m +no_defs"
    return (
        Transformer.from_crs("EPSG:4326", local, always_xy=True),
        Transformer.from_crs(local, "EPSG:4326", always_xy=True),
    )


def _project(geometry: shapely.Geometry, transformer: Transformer) -> shapely.Geometry:
    return shapely.transform(
        geometry, lambda coords: np.column_stack(transformer.transform(coords[:, 0], coords[:, 1]))
    )


def _geodesic_area_km2(geometry: shapely.Geometry) -> float:
    if geometry.is_empty:
        return 0.0
    area, _ = GEOD.geometry_area_perimeter(geometry)
    return abs(area) / 1e6


class Boundaries:
    """A level's boundaries by position, indexed like a numpy array of geometries.

    A covered jurisdiction's boundary (it is exactly the union of its children, coverage.py) is
    not kept: it is rebuilt from the children's on use (distances, overlaps, maps) and the last few
    rebuilt are kept, so the level costs no memory for what its children already hold.
    """

    KEEP = 8

    def __init__(self, geometries: np.ndarray, children: LevelIndex, child_parent: np.ndarray) -> None:
        self._live = geometries.copy()
        self._children = children
        order = np.argsort(child_parent, kind="stable")
        ends = np.searchsorted(child_parent[order], np.arange(len(geometries) + 1))
        self._members = {
            position: order[ends[position] : ends[position + 1]]
            for position in range(len(geometries))
            if ends[position + 1] > ends[position]
        }
        for position in self._members:
            self._live[position] = None
        self._recent: OrderedDict[int, shapely.Geometry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._live)

    def _one(self, position: int) -> shapely.Geometry:
        geometry = self._live[position]
        if geometry is not None:
            return geometry
        geometry = self._recent.get(position)
        if geometry is None:
            parts = self._children.geometries[self._members[position]]
            geometry = shapely.coverage_union_all(parts) if len(parts) > 1 else parts[0]
            self._recent[position] = geometry
            if len(self._recent) > self.KEEP:
                self._recent.popitem(last=False)
        else:
            self._recent.move_to_end(position)
        return geometry

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, int | np.integer):
            return self._one(int(key))
        positions = np.arange(len(self._live))[key]
        found = np.empty(len(positions), dtype=object)
        for i, position in enumerate(positions.tolist()):
            found[i] = self._one(position)
        return found

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        found: np.ndarray = self[np.arange(len(self._live))]
        return found


class LevelIndex:
    """One level's jurisdictions, their prepared boundaries and the tree over them.

    Jurisdictions are kept in adcode order, so the positions a query finds, sorted, are already
    the answer's order; each carries its ready-made "inside" match, so the plain question
    builds no objects per result.
    """

    def __init__(
        self, level: Level, entries: Sequence[Entry], geometries: Sequence[shapely.Geometry]
    ) -> None:
        order = sorted(range(len(entries)), key=lambda i: entries[i].adcode)
        self.level = level
        self.entries = [entries[i] for i in order]
        self.geometries: Any = np.asarray([geometries[i] for i in order], dtype=object)
        shapely.prepare(self.geometries)
        self.tree = shapely.STRtree(self.geometries)
        self.position = {entry.adcode: i for i, entry in enumerate(self.entries)}
        self.inside = [Match(e.adcode, e.name, level.value, 0.0) for e in self.entries]
        self.grid: CellGrid | None = None  # built by `build_grid` for a level not answered through another
        # Set by `cover_with`: the finer level whose jurisdictions exactly tile some of this level's.
        self.children: LevelIndex | None = None
        self.child_parent = np.empty(0, dtype=np.int64)  # child position -> covered position, or -1
        self.covered = np.zeros(len(self.entries), dtype=bool)

    def __len__(self) -> int:
        return len(self.entries)

    def cover_with(self, children: LevelIndex) -> None:
        """Answers for the jurisdictions that are exactly the union of theirs in `children` through those.

        Which ones are is proven edge by edge (coverage.py); they then need no edge index of their
        own, the bulk of the matcher's memory.
        """
        parent_of = np.array(
            [self.position.get(entry.parent_adcode or "", -1) for entry in children.entries], dtype=np.int64
        )
        if not len(self) or not len(children) or not (parent_of >= 0).any():
            return
        covered = exact_unions(children.geometries, parent_of, self.geometries)
        self.children = children
        self.covered = covered
        self.child_parent = np.where((parent_of >= 0) & covered[np.maximum(parent_of, 0)], parent_of, -1)
        if covered.any():
            # the tree keeps only boxes, which is all a query without a predicate looks at
            self.tree = shapely.STRtree(shapely.envelope(self.geometries))
            self.geometries = Boundaries(self.geometries, children, self.child_parent)

    def build_grid(self) -> None:
        """The level's grid (grid.py), for a level whose boundaries are all its own.

        Finding each cell's jurisdiction builds the point-in-area index of every boundary, which a
        covered level must not have (it is answered through its children, grid included).
        """
        if len(self) and not self.covered.any():
            self.grid = CellGrid(self.geometries, GRID_CELL_DEG[self.level])

    def warm(self) -> None:
        """Builds the prepared boundaries' edge indexes now rather than on each one's first query.

        GEOS builds them lazily, which would make a jurisdiction's first match some ten times
        slower than the next; a point and a diamond around each boundary's box (not a rectangle,
        which GEOS answers another way) make it build both the point-in-area and the
        segment-crossing index.
        """
        own = self.geometries[~self.covered]  # the covered ones are answered by their children
        if not len(own):
            return
        west, south, east, north = shapely.bounds(own).T
        x, y = (west + east) / 2, (south + north) / 2
        dx, dy = (east - west) * 1.01 + 1e-6, (north - south) * 1.01 + 1e-6
        shapely.intersects(own, shapely.points(x, y))
        ring = np.stack([(x + dx, y), (x, y + dy), (x - dx, y), (x, y - dy), (x + dx, y)])
        shapely.intersects(own, shapely.polygons(ring.transpose(2, 0, 1)))

    def hits(self, search: shapely.Geometry) -> np.ndarray:
        """Positions of the boundaries that meet `search` (box from the tree, then the exact test), sorted."""
        candidates = self.tree.query(search)
        if candidates.size == 0:
            return candidates
        found = self.meets(candidates, search)
        found.sort()
        return found

    def meets(self, candidates: np.ndarray, search: shapely.Geometry) -> np.ndarray:
        """Those of `candidates` whose boundary meets `search` (in no particular order).

        A covered jurisdiction meets it exactly when one of its children does; the rest are tested
        against their own prepared boundaries.
        """
        if self.children is None:
            return candidates[shapely.intersects(self.geometries[candidates], search)]
        covered = self.covered[candidates]
        own = candidates[~covered]
        found = own[shapely.intersects(self.geometries[own], search)] if own.size else own
        if covered.any():
            parents = self.child_parent[self.children.hits(search)]
            found = np.concatenate([found, np.unique(parents[parents >= 0])])
        return found


class GeographyIndex:
    """Every loaded level, answering which jurisdictions a hazard touches and how far the rest lie."""

    def __init__(self, levels: dict[Level, LevelIndex], load_id: int | None = None) -> None:
        self.levels = levels
        self.load_id = load_id

    @classmethod
    def build(
        cls,
        rows: Iterable[tuple[str, str, str, str | None, float, object]],
        load_id: int | None = None,
        *,
        warm: Collection[Level] = WARM_LEVELS,
    ) -> GeographyIndex:
        """From (level, adcode, name, parent_adcode, area_km2, geometry or WKB) rows."""
        grouped: dict[Level, tuple[list[Entry], list[object]]] = {}
        for level, adcode, name, parent, area, geometry in rows:
            entries, geometries = grouped.setdefault(Level(level), ([], []))
            entries.append(Entry(Level(level), adcode, name, parent, float(area)))
            geometries.append(geometry)
        levels = {}
        for level in LEVELS:
            if level not in grouped:
                continue
            entries, raw = grouped.pop(level)
            geometries = [
                shapely.from_wkb(g) if isinstance(g, bytes | bytearray | memoryview) else g for g in raw
            ]
            del raw
            levels[level] = LevelIndex(level, entries, geometries)
        # Coverage first, so that the memory the covered boundaries free is reused by the indexes.
        for finer, level in zip(reversed(LEVELS), reversed(LEVELS[:-1]), strict=False):
            if level in levels and finer in levels:
                levels[level].cover_with(levels[finer])
        for level, index in levels.items():
            index.build_grid()
            if level in warm:
                index.warm()
        release_freed_memory()
        return cls(levels, load_id)

    @property
    def is_empty(self) -> bool:
        return not any(len(index) for index in self.levels.values())

    def count(self, level: Level) -> int:
        index = self.levels.get(level)
        return len(index) if index else 0

    def get(self, level: Level, adcode: str) -> Entry | None:
        index = self.levels.get(level)
        if index is None or adcode not in index.position:
            return None
        return index.entries[index.position[adcode]]

    def geometry(self, level: Level, adcode: str) -> shapely.Geometry | None:
        index = self.levels.get(level)
        if index is None or adcode not in index.position:
            return None
        return index.geometries[index.position[adcode]]

    def find(self, adcode: str) -> list[Entry]:
        """Every level the adcode stands at, highest level first."""
        found = [self.get(level, adcode) for level in LEVELS]
        return [entry for entry in found if entry is not None]

    def ancestor(self, entry: Entry, level: Level) -> str | None:
        """The adcode of the jurisdiction at `level` that contains `entry` (its own adcode at its level)."""
        level = Level(level)
        if level.rank > entry.level.rank:
            return None
        current: Entry | None = entry
        while current is not None and current.level != level:
            parent_level = LEVELS[current.level.rank - 1]
            parent = current.parent_adcode
            if parent is None:
                return None
            found = self.get(parent_level, parent)
            if found is None:
                # a subset load may lack the middle level; the province still follows from the code
                return parent[:2] + "0000" if level == Level.province else None
            current = found
        return current.adcode if current is not None else None

    def bordering(self, own_level: Level, adcode: str, level: Level) -> list[Entry]:
        """Jurisdictions at another level sharing a border with this one (not inside it, not containing it)."""
        own_level, level = Level(own_level), Level(level)
        source = self.get(own_level, adcode)
        geometry = self.geometry(own_level, adcode)
        index = self.levels.get(level)
        if source is None or geometry is None or index is None:
            raise errors.UnknownJurisdiction(adcode=adcode)
        container = self.ancestor(source, level)
        simplified = shapely.simplify(geometry, ADJACENCY_SIMPLIFY_DEG, preserve_topology=True)
        found = []
        for position in index.tree.query(geometry, predicate="dwithin", distance=ADJACENCY_GAP_DEG).tolist():
            entry = index.entries[position]
            if entry.adcode == container or self.ancestor(entry, own_level) == adcode:
                continue
            other = shapely.simplify(
                index.geometries[position], ADJACENCY_SIMPLIFY_DEG, preserve_topology=True
            )
            if border_km(simplified, other) > MIN_SHARED_BORDER_KM:
                found.append(entry)
        return sorted(found, key=lambda entry: entry.adcode)

    # --- matching ---------------------------------------------------------------------------

    def match(
        self, hazard: Hazard, *, level: Level, buffer_km: float = 0.0, overlap: bool = False
    ) -> list[Match]:
        """The jurisdictions at `level` the hazard touches (distance 0) or lies within buffer_km of."""
        if type(level) is not Level:
            level = Level(level)
        index = self.levels.get(level)
        if index is None or not len(index):
            raise errors.GeographyNotLoaded(level=level.value)
        if buffer_km <= 0 and not overlap and hazard.kind != "adcodes":
            return self._match_plain(index, hazard)
        if hazard.kind == "adcodes":
            return self._match_adcodes(index, hazard, buffer_km=buffer_km, overlap=overlap)
        if hazard.kind == "circle":
            return self._match_circle(index, hazard, buffer_km=buffer_km, overlap=overlap)
        assert hazard.geometry is not None
        return self._match_geometry(index, hazard.geometry, buffer_km=buffer_km, overlap=overlap)

    def _match_plain(self, index: LevelIndex, hazard: Hazard) -> list[Match]:
        """The question most asked: which jurisdictions the hazard touches (all at distance 0).

        The level's grid answers first when the hazard's box lies in cells no boundary crosses
        (at sea, or well inside one jurisdiction); otherwise a circle asks the tree with its
        bounding box, so one far from every jurisdiction never builds its polygon. The answer
        comes in adcode order from the ready-made matches.
        """
        bounds = circle_bounds(*hazard.center, hazard.radius_km) if hazard.center is not None else None
        grid = index.grid
        if grid is not None:
            if bounds is not None:
                decided = grid.decide(*bounds, *hazard.center)  # type: ignore[misc]
            elif hazard.extent is not None:
                decided = grid.decide(*hazard.extent)
            else:
                decided = None
            if decided is not None:
                return [] if decided == EMPTY else [index.inside[decided]]
        # a one-element array spares STRtree.query the reshaping it does for a lone geometry
        search = np.empty(1, dtype=object)
        # a circle the grid left open has boundaries near it: its polygon will be needed anyway
        box_first = bounds is not None and grid is None
        search[0] = shapely.box(*bounds) if box_first else hazard.geometry  # type: ignore[misc]
        candidates = index.tree.query(search)[1]
        if not candidates.size:
            return []
        found = index.meets(candidates, hazard.geometry)
        found.sort()
        inside = index.inside
        return [inside[position] for position in found.tolist()]

    def _results(
        self,
        index: LevelIndex,
        found: list[tuple[int, float]],
        search: shapely.Geometry,
        overlap: bool,
        fixed_overlap: dict[int, float] | None = None,
    ) -> list[Match]:
        results = []
        for position, distance in found:
            entry = index.entries[position]
            fraction = None
            if overlap:
                if fixed_overlap and position in fixed_overlap:
                    fraction = fixed_overlap[position]
                else:
                    covered = shapely.intersection(index.geometries[position], search)
                    fraction = _geodesic_area_km2(covered) / entry.area_km2 if entry.area_km2 > 0 else 0.0
                fraction = round(min(1.0, max(0.0, fraction)), 4)
            results.append(Match(entry.adcode, entry.name, entry.level.value, round(distance, 3), fraction))
        results.sort(key=lambda match: (match.distance_km, match.adcode))
        return results

    def _match_geometry(
        self, index: LevelIndex, geometry: shapely.Geometry, *, buffer_km: float, overlap: bool
    ) -> list[Match]:
        if buffer_km <= 0:
            return self._results(index, [(int(i), 0.0) for i in index.hits(geometry)], geometry, overlap)
        centre = geometry.centroid
        forward, inverse = _aeqd(round(centre.x, 6), round(centre.y, 6))
        local = _project(geometry, forward)
        search = _project(shapely.buffer(local, buffer_km * 1000.0, quad_segs=16), inverse)
        hits = index.hits(search)
        inside = np.isin(hits, index.meets(hits, geometry)) if hits.size else np.array([], dtype=bool)
        found = []
        for position, touches in zip(hits.tolist(), inside.tolist(), strict=True):
            if touches:
                found.append((position, 0.0))
                continue
            distance = shapely.distance(local, _project(index.geometries[position], forward)) / 1000.0
            if distance <= buffer_km:
                found.append((position, distance))
        return self._results(index, found, search, overlap)

    def _match_circle(
        self, index: LevelIndex, hazard: Hazard, *, buffer_km: float, overlap: bool
    ) -> list[Match]:
        assert hazard.center is not None and hazard.geometry is not None
        if buffer_km <= 0:
            hits = index.hits(hazard.geometry)
            return self._results(index, [(int(i), 0.0) for i in hits], hazard.geometry, overlap)
        lon, lat = hazard.center
        search = geodesic_circle(lon, lat, hazard.radius_km + buffer_km)
        hits = index.hits(search)
        inside = np.isin(hits, index.meets(hits, hazard.geometry)) if hits.size else np.array([], dtype=bool)
        forward, _ = _aeqd(lon, lat)
        origin = shapely.Point(0.0, 0.0)
        found = []
        for position, touches in zip(hits.tolist(), inside.tolist(), strict=True):
            if touches:
                found.append((position, 0.0))
                continue
            from_centre = shapely.distance(origin, _project(index.geometries[position], forward)) / 1000.0
            distance = max(0.0, from_centre - hazard.radius_km)
            if distance <= buffer_km:
                found.append((position, distance))
        return self._results(index, found, search, overlap)

    def _match_adcodes(
        self, index: LevelIndex, hazard: Hazard, *, buffer_km: float, overlap: bool
    ) -> list[Match]:
        regions: list[Entry] = []
        for adcode in hazard.adcodes:
            entries = self.find(adcode)
            if not entries:
                raise errors.UnknownJurisdiction(adcode=adcode)
            regions.append(entries[0])  # the highest level it stands at contains the others
        inside: dict[int, float] = {}  # position -> overlap fraction
        region_area_by_ancestor: dict[str, float] = {}
        for region in regions:
            if region.level.rank <= index.level.rank:
                # the region itself or its parts at a finer level lie wholly inside
                for position, entry in enumerate(index.entries):
                    if self.ancestor(entry, region.level) == region.adcode:
                        inside[position] = 1.0
            else:
                ancestor = self.ancestor(region, index.level)
                if ancestor is not None and ancestor in index.position:
                    region_area_by_ancestor[ancestor] = (
                        region_area_by_ancestor.get(ancestor, 0.0) + region.area_km2
                    )
        for ancestor, area in region_area_by_ancestor.items():
            position = index.position[ancestor]
            total = index.entries[position].area_km2
            inside[position] = min(1.0, area / total) if total > 0 else 0.0
        union = shapely.union_all([self.geometry(region.level, region.adcode) for region in regions])
        found = [(position, 0.0) for position in inside]
        if buffer_km > 0:
            near = self._match_geometry(index, union, buffer_km=buffer_km, overlap=False)
            for match in near:
                position = index.position[match.adcode]
                if position not in inside:
                    found.append((position, match.distance_km))
        return self._results(index, found, union, overlap, fixed_overlap=inside)


def release_freed_memory() -> None:
    """Hands the heap's free pages back to the system after a build (glibc only; elsewhere a no-op).

    Parsing millions of vertices leaves much freed memory scattered through the heap, which the
    process would otherwise keep for good.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class IndexHolder:
    """The process's current index; rebuilt once when a newer load appears, never twice at once."""

    def __init__(self) -> None:
        self.index: GeographyIndex | None = None
        self._lock = asyncio.Lock()

    async def current(
        self,
        latest_load_id: int | None,
        build: Callable[[], Awaitable[GeographyIndex]],
    ) -> GeographyIndex:
        index = self.index
        if index is not None and index.load_id == latest_load_id:
            return index
        async with self._lock:
            if self.index is None or self.index.load_id != latest_load_id:
                self.index = await build()
            return self.index
