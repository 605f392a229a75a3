"""The ISTAT registry of regions, provinces and comuni."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lgnetforma.extensions import db


class Region(db.Model):
    __tablename__ = "region"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(2), unique=True)
    name: Mapped[str] = mapped_column(String(100))

    provinces: Mapped[list[Province]] = relationship(back_populates="region")

    def __repr__(self) -> str:
        return f"<Region {self.code} {self.name}>"


class Province(db.Model):
    __tablename__ = "province"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(3), unique=True)
    abbreviation: Mapped[str] = mapped_column(String(2))
    name: Mapped[str] = mapped_column(String(100))
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)

    region: Mapped[Region] = relationship(back_populates="provinces")

    def __repr__(self) -> str:
        return f"<Province {self.abbreviation}>"


class Comune(db.Model):
    __tablename__ = "comune"

    id: Mapped[int] = mapped_column(primary_key=True)
    istat_code: Mapped[str] = mapped_column(String(6), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    cadastral_code: Mapped[str] = mapped_column(String(4))
    province_id: Mapped[int] = mapped_column(ForeignKey("province.id"), index=True)
    # Denormalised from the province: reports group and filter by region constantly.
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    # None when ISTAT has no figure: such a comune is never eligible.
    population: Mapped[int | None] = mapped_column(Integer, index=True)

    province: Mapped[Province] = relationship()
    region: Mapped[Region] = relationship()

    @property
    def label(self) -> str:
        """How the comune is shown and typed: name, province and ISTAT code."""
        return f"{self.name} ({self.province.abbreviation}) – {self.istat_code}"

    @hybrid_method
    def is_eligible(self, threshold: int) -> bool:
        """Above the cycle's population threshold: the one rule, in Python and in SQL
        (``Comune.is_eligible(cycle.population_threshold)``; NULL population never is)."""
        return self.population is not None and self.population > threshold

    @is_eligible.expression
    def _is_eligible_sql(cls, threshold: int):  # noqa: ANN206, N805 - a SQL expression
        return cls.population > threshold

    def __repr__(self) -> str:
        return f"<Comune {self.istat_code} {self.name}>"
