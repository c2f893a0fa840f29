"""A coarse raster over one level's boundaries that answers most plain matches without GEOS.

Every cell of CELL_DEG degrees is one of: crossed by no boundary and inside no jurisdiction
(EMPTY), crossed by no boundary and wholly inside exactly one jurisdiction (that one's position),
or anything else (MIXED: a boundary may pass through it). A cell counts as crossed when a boundary
vertex, or a point sampled every half cell along an edge, lies in it or in one of its eight
neighbours, so every cell an edge passes through is marked; a cell no edge passes through lies
wholly inside or wholly outside each jurisdiction, which its centre decides.

So a hazard whose bounding box covers only EMPTY cells touches nothing, and one whose box covers
only EMPTY cells and cells of one jurisdiction, with a point of the hazard in a cell of that
jurisdiction, touches that jurisdiction alone. Everything else goes to the exact test; the grid
never changes an answer, it only skips work (tests/risk/geography/test_grid.py compares both on
random hazards along boundaries).
"""

from __future__ import annotations

import math

import numpy as np
import shapely

EMPTY = -1
MIXED = -2
CELL_DEG = 0.05  # about 5 km: a 20 km circle's box covers some 80 cells


class CellGrid:
    """One level's raster: `owner[row, column]` is EMPTY, MIXED or a position in the level."""

    __slots__ = ("cell", "columns", "mixed", "occupied", "owner", "rows", "south", "west")

    def __init__(self, geometries: np.ndarray, cell: float = CELL_DEG) -> None:
        west, south, east, north = (float(v) for v in shapely.total_bounds(geometries))
        self.cell = cell
        # one empty cell of margin all round, so the eight-neighbour marking needs no edge cases
        self.west = math.floor(west / cell) * cell - cell
        self.south = math.floor(south / cell) * cell - cell
        self.columns = math.floor((east - self.west) / cell) + 2
        self.rows = math.floor((north - self.south) / cell) + 2
        crossed = self._crossed(geometries)
        owner = np.full((self.rows, self.columns), EMPTY, dtype=np.int32)
        owner[crossed] = MIXED
        bounds = shapely.bounds(geometries)
        for position, (geometry, box) in enumerate(zip(geometries.tolist(), bounds.tolist(), strict=True)):
            c0, r0 = self._cell(box[0], box[1])
            c1, r1 = self._cell(box[2], box[3])
            rows, columns = np.nonzero(~crossed[r0 : r1 + 1, c0 : c1 + 1])
            if not rows.size:
                continue
            rows += r0
            columns += c0
            x = self.west + (columns + 0.5) * cell
            y = self.south + (rows + 0.5) * cell
            inside = shapely.contains_xy(geometry, x, y)
            rows, columns = rows[inside], columns[inside]
            taken = owner[rows, columns]
            # a clean cell inside two jurisdictions (an overlap) is left to the exact test
            owner[rows, columns] = np.where(taken == EMPTY, position, MIXED)
        self.owner = owner
        # summed-area tables: how many cells in any box are MIXED, and how many are not EMPTY, in O(1)
        self.mixed = _summed(owner == MIXED)
        self.occupied = _summed(owner != EMPTY)

    def _cell(self, x: float, y: float) -> tuple[int, int]:
        """(column, row) of the cell holding (x, y), clamped to the grid."""
        column = min(max(int((x - self.west) // self.cell), 0), self.columns - 1)
        row = min(max(int((y - self.south) // self.cell), 0), self.rows - 1)
        return column, row

    def _crossed(self, geometries: np.ndarray) -> np.ndarray:
        """Cells a boundary may pass through: those holding a vertex or an edge sample, and their neighbours."""
        parts = shapely.get_parts(geometries)
        rings = shapely.get_rings(parts)
        xy, ring = shapely.get_coordinates(rings, return_index=True)
        same = ring[1:] == ring[:-1]
        start, end = xy[:-1][same], xy[1:][same]
        # samples every half cell along the longer edges, so no cell an edge crosses goes unseen
        steps = np.ceil(np.abs(end - start).max(axis=1) / (self.cell / 2)).astype(np.int64)
        long = steps > 1
        if long.any():
            counts = steps[long] - 1
            edge = np.repeat(np.flatnonzero(long), counts)
            offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + 1
            fraction = (offsets / np.repeat(steps[long], counts))[:, np.newaxis]
            samples = start[edge] + (end[edge] - start[edge]) * fraction
            xy = np.concatenate([xy, samples])
        columns = np.clip(((xy[:, 0] - self.west) // self.cell).astype(np.int64), 1, self.columns - 2)
        rows = np.clip(((xy[:, 1] - self.south) // self.cell).astype(np.int64), 1, self.rows - 2)
        seen = np.zeros((self.rows, self.columns), dtype=bool)
        seen[rows, columns] = True
        crossed = seen.copy()
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                if dr or dc:
                    crossed[1 + dr : self.rows - 1 + dr, 1 + dc : self.columns - 1 + dc] |= seen[
                        1 : self.rows - 1, 1 : self.columns - 1
                    ]
        return crossed

    def decide(self, west: float, south: float, east: float, north: float, x: float, y: float) -> int | None:
        """EMPTY, the one position the hazard touches, or None (ask the exact test).

        (west, south, east, north) must hold the whole hazard and (x, y) must be a point of it.
        """
        cell = self.cell
        c0 = int((west - self.west) // cell)
        r0 = int((south - self.south) // cell)
        c1 = int((east - self.west) // cell)
        r1 = int((north - self.south) // cell)
        if c1 < 0 or r1 < 0 or c0 >= self.columns or r0 >= self.rows:
            return EMPTY  # wholly outside the grid, which holds every boundary
        if c0 == c1 and r0 == r1:  # a point, or a hazard within one cell
            value = int(self.owner[r0, c0])
            return None if value == MIXED else value
        r0, c0 = max(r0, 0), max(c0, 0)
        r1, c1 = min(r1, self.rows - 1) + 1, min(c1, self.columns - 1) + 1
        occupied = self.occupied
        if occupied[r1, c1] - occupied[r0, c1] - occupied[r1, c0] + occupied[r0, c0] == 0:
            return EMPTY
        mixed = self.mixed
        if mixed[r1, c1] - mixed[r0, c1] - mixed[r1, c0] + mixed[r0, c0]:
            return None
        cells = self.owner[r0:r1, c0:c1]
        highest = int(cells.max())
        column, row = self._cell(x, y)
        if int(self.owner[row, column]) != highest:
            return None  # the hazard's own point is not in that jurisdiction's cells: maybe it misses it
        if not ((cells == highest) | (cells == EMPTY)).all():
            return None
        return highest


def _summed(cells: np.ndarray) -> np.ndarray:
    """The summed-area table of a boolean grid: [r, c] counts the cells above and left of (r, c)."""
    table = np.zeros((cells.shape[0] + 1, cells.shape[1] + 1), dtype=np.int32)
    np.cumsum(np.cumsum(cells, axis=0, dtype=np.int32), axis=1, out=table[1:, 1:])
    return table
