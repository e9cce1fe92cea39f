"""Shapes drawn on a map: which postcodes' points lie inside a polygon or circle.

A target shape is GeoJSON: a ``Polygon`` or ``MultiPolygon`` geometry (longitude,
latitude), or ``{"type": "Circle", "center": [lon, lat], "radius_m": metres}``. Members
are matched by the point of their postcode, so the work is done once per postcode in
the shape's bounding box, never once per member.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select

from core.extensions import db
from core.models import Postcode

MAX_VERTICES = 2000
MAX_RADIUS_M = 50_000
EARTH_RADIUS_M = 6_371_000


class ShapeError(ValueError):
    """A shape that is not valid GeoJSON of a kind we accept."""


def _circle_bounds(center: tuple[float, float], radius_m: float) -> tuple[float, ...]:
    lon, lat = center
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    dlon = math.degrees(radius_m / (EARTH_RADIUS_M * max(math.cos(math.radians(lat)), 0.01)))
    return lon - dlon, lat - dlat, lon + dlon, lat + dlat


def _distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def check(data: Any) -> Mapping[str, Any]:
    """``data`` if it is a shape we accept; raises :class:`ShapeError` saying why not."""
    if not isinstance(data, Mapping):
        raise ShapeError("a shape must be a GeoJSON object")
    if data.get("type") == "Circle":
        center, radius = data.get("center"), data.get("radius_m")
        if (not isinstance(center, list | tuple) or len(center) != 2
                or not all(isinstance(c, int | float) for c in center)):
            raise ShapeError("a circle needs a center [longitude, latitude]")
        if not -180 <= center[0] <= 180 or not -90 <= center[1] <= 90:
            raise ShapeError("the circle's center is not on the map")
        if not isinstance(radius, int | float) or not 0 < radius <= MAX_RADIUS_M:
            raise ShapeError(f"radius_m must be between 0 and {MAX_RADIUS_M}")
        return data
    if data.get("type") not in ("Polygon", "MultiPolygon"):
        raise ShapeError("a shape must be a Polygon, a MultiPolygon or a Circle")
    # Imported here: shapely brings numpy, 20 MB that no worker or fan-out needs.
    from shapely.geometry import shape
    from shapely.validation import explain_validity

    try:
        geometry = shape(data)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise ShapeError(f"the {data['type']} is not valid GeoJSON ({exc})") from None
    if geometry.is_empty or not geometry.is_valid:
        raise ShapeError(f"the shape is not valid: {explain_validity(geometry)}")
    if len(geometry.exterior.coords if geometry.geom_type == "Polygon" else
           [c for g in geometry.geoms for c in g.exterior.coords]) > MAX_VERTICES:
        raise ShapeError(f"the shape has more than {MAX_VERTICES} points")
    return data


def _bounds_and_test(data: Mapping[str, Any]
                     ) -> tuple[tuple[float, ...], Callable[[float, float], bool]]:
    """The shape's bounding box (west, south, east, north) and a test of whether a point
    (longitude, latitude) lies inside it."""
    if data.get("type") == "Circle":
        center = (float(data["center"][0]), float(data["center"][1]))
        radius = float(data["radius_m"])
        return (_circle_bounds(center, radius),
                lambda lon, lat: _distance_m(center, (lon, lat)) <= radius)
    from shapely.geometry import Point, shape

    geometry = shape(data)
    return geometry.bounds, lambda lon, lat: geometry.covers(Point(lon, lat))


def covers(data: Mapping[str, Any], longitude: float | None, latitude: float | None) -> bool:
    """Whether the point lies inside the shape (``data`` already checked); a missing
    point is outside."""
    if longitude is None or latitude is None:
        return False
    return _bounds_and_test(data)[1](longitude, latitude)


def postcodes_inside(data: Mapping[str, Any]) -> list[str]:
    """The postcodes whose point lies inside the shape (``data`` already checked)."""
    (west, south, east, north), inside = _bounds_and_test(data)
    candidates = db.session.execute(
        select(Postcode.postcode, Postcode.longitude, Postcode.latitude).where(
            Postcode.longitude.between(west, east), Postcode.latitude.between(south, north))
    )
    return [code for code, lon, lat in candidates if inside(lon, lat)]
