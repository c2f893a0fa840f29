"""Tables of spillover: river networks users imported (the shipped one lives in data/rivers.json)."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from regio.core.db import Base, BigId, IdMixin, TimestampMixin


class RiverNetwork(IdMixin, TimestampMixin, Base):
    """One imported network, replaced as a whole when a file of the same name is imported again."""

    __tablename__ = "spillover_river_networks"

    name: Mapped[str] = mapped_column(String(100), nullable=False, unique=True)
    source: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    # 1 on the first import, +1 on each replacement: the upsert that bumps it also locks the row
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    reach_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class RiverReach(IdMixin, Base):
    """A reach drawn in the direction of flow, between two nodes, with the prefectures it crosses."""

    __tablename__ = "spillover_river_reaches"
    __table_args__ = (
        CheckConstraint("length_km > 0", name="length_positive"),
        CheckConstraint("travel_hours > 0", name="travel_positive"),
        CheckConstraint("from_node <> to_node", name="not_a_loop"),
        Index("ix_spillover_river_reaches_network", "network_id", "position"),
    )

    network_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("spillover_river_networks.id", ondelete="CASCADE"), nullable=False
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    river: Mapped[str] = mapped_column(String(100), nullable=False)
    from_node: Mapped[str] = mapped_column(String(100), nullable=False)
    to_node: Mapped[str] = mapped_column(String(100), nullable=False)
    from_lon: Mapped[float] = mapped_column(Float, nullable=False)
    from_lat: Mapped[float] = mapped_column(Float, nullable=False)
    to_lon: Mapped[float] = mapped_column(Float, nullable=False)
    to_lat: Mapped[float] = mapped_column(Float, nullable=False)
    length_km: Mapped[float] = mapped_column(Float, nullable=False)
    travel_hours: Mapped[float] = mapped_column(Float, nullable=False)
    # GB/T 2260 prefecture codes crossed, in flow order, comma-separated
    adcodes: Mapped[str] = mapped_column(Text, nullable=False, default="")
