"""Geography tables: jurisdictions with their boundaries, shared borders, coordination bodies."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from regio.core.db import Base, BigId, IdMixin, TimestampMixin, UTCDateTime, utcnow
from regio.risk.geography.enums import LEVELS, RiskCategory

_LEVELS_SQL = ", ".join(f"'{level.value}'" for level in LEVELS)
_CATEGORIES_SQL = ", ".join(f"'{category.value}'" for category in RiskCategory)


class Jurisdiction(IdMixin, TimestampMixin, Base):
    """A province, prefecture or county with its WGS-84 boundary; keyed by (level, adcode)."""

    __tablename__ = "jurisdictions"
    __table_args__ = (
        # Some adcodes stand at two levels (Dongguan 441900 is a prefecture and its own county).
        UniqueConstraint("level", "adcode", name="uq_jurisdictions_level_adcode"),
        CheckConstraint(f"level IN ({_LEVELS_SQL})", name="level"),
        CheckConstraint("length(adcode) = 6", name="adcode"),
        Index("ix_jurisdictions_adcode", "adcode"),
        Index("ix_jurisdictions_parent", "parent_adcode", "level"),
    )

    level: Mapped[str] = mapped_column(String(16), nullable=False)
    adcode: Mapped[str] = mapped_column(String(6), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    # The jurisdiction one level up; None for provinces.
    parent_adcode: Mapped[str | None] = mapped_column(String(6), nullable=True)
    # The region key every table carries, so a country-wide deployment can shard by province.
    province_adcode: Mapped[str] = mapped_column(String(6), nullable=False)
    label_lon: Mapped[float] = mapped_column(Float, nullable=False)
    label_lat: Mapped[float] = mapped_column(Float, nullable=False)
    min_lon: Mapped[float] = mapped_column(Float, nullable=False)
    min_lat: Mapped[float] = mapped_column(Float, nullable=False)
    max_lon: Mapped[float] = mapped_column(Float, nullable=False)
    max_lat: Mapped[float] = mapped_column(Float, nullable=False)
    area_km2: Mapped[float] = mapped_column(Float, nullable=False)
    # Full-detail boundary in WGS-84 as WKB: both engines store it, no PostGIS needed to run.
    geometry_wkb: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    # Simplified for maps (GeoJSON geometry text): coarse for the first view, fine when zoomed in.
    map_coarse: Mapped[str] = mapped_column(Text, nullable=False)
    map_fine: Mapped[str] = mapped_column(Text, nullable=False)
    source: Mapped[str] = mapped_column(String(200), nullable=False)


class JurisdictionAdjacency(Base):
    """Two jurisdictions of one level that share a border; stored in both directions."""

    __tablename__ = "jurisdiction_adjacency"
    __table_args__ = (
        CheckConstraint(f"level IN ({_LEVELS_SQL})", name="level"),
        CheckConstraint("adcode <> neighbor_adcode", name="not_self"),
    )

    level: Mapped[str] = mapped_column(String(16), primary_key=True)
    adcode: Mapped[str] = mapped_column(String(6), primary_key=True)
    neighbor_adcode: Mapped[str] = mapped_column(String(6), primary_key=True)
    shared_border_km: Mapped[float] = mapped_column(Float, nullable=False)


class CoordinationBody(IdMixin, TimestampMixin, Base):
    """A standing body of member jurisdictions (综合性协调机构), e.g. the Yangtze River Delta's."""

    __tablename__ = "coordination_bodies"

    # The scope id of role grants (ScopeKind.coordination_body), e.g. "yangtze-river-delta".
    slug: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    name_en: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    source: Mapped[str] = mapped_column(String(300), nullable=False, default="")


class CoordinationBodyMember(Base):
    """A jurisdiction's membership of a body; a jurisdiction may belong to several bodies."""

    __tablename__ = "coordination_body_members"
    __table_args__ = (CheckConstraint(f"level IN ({_LEVELS_SQL})", name="level"),)

    body_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("coordination_bodies.id", ondelete="CASCADE"), primary_key=True
    )
    level: Mapped[str] = mapped_column(String(16), primary_key=True)
    adcode: Mapped[str] = mapped_column(String(6), primary_key=True)
    # Kept here too, so a body reads well before boundaries are loaded.
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class CoordinationOffice(IdMixin, Base):
    """A body's specialised office for one risk category (e.g. its public-health office)."""

    __tablename__ = "coordination_offices"
    __table_args__ = (
        UniqueConstraint("body_id", "category", name="uq_coordination_offices_body_category"),
        CheckConstraint(f"category IN ({_CATEGORIES_SQL})", name="category"),
    )

    body_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("coordination_bodies.id", ondelete="CASCADE"), nullable=False
    )
    category: Mapped[str] = mapped_column(String(32), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    name_en: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    # The member that hosts the office's secretariat, if the body named one.
    lead_adcode: Mapped[str | None] = mapped_column(String(6), nullable=True)


class GeographyLoad(IdMixin, Base):
    """One run of the loader; app processes rebuild their in-memory index when a newer one appears."""

    __tablename__ = "geography_loads"

    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    source: Mapped[str] = mapped_column(String(200), nullable=False)
    provinces: Mapped[str] = mapped_column(Text, nullable=False, default="")  # "" means all of China
    jurisdictions: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    adjacency_pairs: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
