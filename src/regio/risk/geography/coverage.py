"""Which prefectures and provinces are exactly the union of their counties, proven edge by edge.

Such a jurisdiction needs no boundary index of its own: a hazard touches it exactly when it
touches one of its counties, so the matcher asks the county index and keeps only the counties'
index in memory (the prepared boundaries' edge indexes are the bulk of the matcher's memory).

The proof is combinatorial and exact, on the coordinates bit for bit. Orient every ring so that
its area lies to the left (exteriors counter-clockwise, holes clockwise) and add up the directed
edges: +1 for each edge of each county, -1 for each edge of the parent, an edge and its reverse
cancelling. If everything cancels, the counties' boundaries add up to the parent's boundary as
chains, so every point off the boundaries has the same winding number for the parent as summed
over the counties; the counties then neither overlap nor leave a gap, and their union is the parent.
A county drawn with a vertex its neighbour lacks (a T-junction), or a sliver, leaves edges that do
not cancel, and that parent keeps its own index: the check can only err towards more memory.

Edges are grouped by a 64-bit hash of their endpoints' bits and every group is then compared in
full, so a hash collision also errs towards keeping the parent's own index.
"""

from __future__ import annotations

import numpy as np
import shapely

_MIX = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93], dtype=np.uint64
)


def _edges(geometries: np.ndarray, groups: np.ndarray, weight: int) -> tuple[np.ndarray, ...]:
    """Every directed edge, its area on the left: coordinates, start and end vertex, group and weight."""
    _, coords, offsets = shapely.to_ragged_array(geometries)
    ring_offsets, polygon_offsets = offsets[0], offsets[1]
    if len(offsets) > 2:  # MultiPolygons: polygons per geometry
        group_of_polygon = np.repeat(groups, np.diff(offsets[2]))
    else:
        group_of_polygon = groups
    ring_count = len(ring_offsets) - 1
    group_of_ring = np.repeat(group_of_polygon, np.diff(polygon_offsets))
    ring_of_vertex = np.repeat(np.arange(ring_count), np.diff(ring_offsets))
    exterior = np.zeros(ring_count, dtype=bool)
    exterior[polygon_offsets[:-1][np.diff(polygon_offsets) > 0]] = True  # each polygon's first ring
    x, y = coords[:, 0], coords[:, 1]
    first = np.flatnonzero(ring_of_vertex[1:] == ring_of_vertex[:-1])  # edge i runs from vertex i to i+1
    ring = ring_of_vertex[first]
    twice_area = np.bincount(
        ring, weights=x[first] * y[first + 1] - x[first + 1] * y[first], minlength=ring_count
    )
    reverse = np.where(exterior, twice_area < 0, twice_area > 0)
    keep = group_of_ring[ring] >= 0
    first, ring = first[keep], ring[keep]
    flip = reverse[ring]
    start = np.where(flip, first + 1, first)
    end = np.where(flip, first, first + 1)
    return coords, start, end, group_of_ring[ring], np.full(len(first), weight, dtype=np.int64)


def _vertex_hash(coords: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each vertex's coordinate bits (equal vertices, equal hashes)."""
    bits = coords.view(np.uint64)
    with np.errstate(over="ignore"):
        mixed = bits[:, 0] * _MIX[0]
        mixed ^= (mixed >> np.uint64(31)) ^ (bits[:, 1] * _MIX[1])
        mixed ^= mixed >> np.uint64(29)
    result: np.ndarray = mixed
    return result


def exact_unions(children: np.ndarray, child_parent: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """For each parent, whether it is exactly the union of the children mapped to it (child_parent, -1: none)."""
    parts = [_edges(children, child_parent, 1), _edges(parents, np.arange(len(parents)), -1)]
    coords = np.concatenate([parts[0][0], parts[1][0]])
    shift = len(parts[0][0])
    start = np.concatenate([parts[0][1], parts[1][1] + shift])
    end = np.concatenate([parts[0][2], parts[1][2] + shift])
    group = np.concatenate([parts[0][3], parts[1][3]]).astype(np.int64)
    weight = np.concatenate([parts[0][4], parts[1][4]])
    del parts
    vertex = _vertex_hash(coords)
    # canonical direction: from the endpoint with the smaller hash; reversing an edge negates it
    swap = vertex[start] > vertex[end]
    low = np.where(swap, end, start)
    high = np.where(swap, start, end)
    weight[swap] = -weight[swap]
    with np.errstate(over="ignore"):
        digest = group.astype(np.uint64) * _MIX[2]
        digest ^= vertex[low]
        digest = (digest << np.uint64(23)) | (digest >> np.uint64(41))
        digest ^= vertex[high] * _MIX[3]
    order = np.argsort(digest)
    digest = digest[order]
    low, high, group, weight = low[order], high[order], group[order], weight[order]
    starts = np.flatnonzero(np.concatenate([[True], digest[1:] != digest[:-1]]))
    head = np.repeat(starts, np.diff(np.append(starts, len(digest))))
    # the same edge of the same group in full, not only the same hash (equal-hash ties included)
    alike = (
        (group == group[head])
        & (coords[low] == coords[low[head]]).all(axis=1)
        & (coords[high] == coords[high[head]]).all(axis=1)
    )
    bad = ~np.logical_and.reduceat(alike, starts) | (np.add.reduceat(weight, starts) != 0)
    bad_member = bad[np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(digest))))]
    exact = np.ones(len(parents), dtype=bool)
    exact[np.unique(group[bad_member])] = False  # every group a failing run touches
    has_child = np.zeros(len(parents), dtype=bool)
    has_child[child_parent[child_parent >= 0]] = True
    result: np.ndarray = exact & has_child
    return result
