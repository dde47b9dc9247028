"""The cube: every cell of every geography level x period level x modality, from the raw fine cells.

Fine cells are service x month x (dimension, modalité) for the service-months present (a
service-month is present when its `ensemble` row is). Every other cell is a sum of fine cells;
`support` holds those sums as a sparse 0/1 matrix (cells x fine cells), so that values are
`support @ x` and the audit reads its equations from the same matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.sparse as sp

from analytics.disclosure.levels import GEO_LEVELS, NATIONAL_CODE, PERIOD_LEVELS, period_expr
from analytics.disclosure.published_set import PublishedSet
from analytics.nomenclature import TOTAL_CODE, Nomenclature
from analytics.referentials import departement_region

COMBOS = tuple((g, p) for g in GEO_LEVELS for p in PERIOD_LEVELS)


@dataclass
class Cube:
    pairs: list[tuple[str, str]]  # P (dimension, modalite), preset order
    service_months: pl.DataFrame  # sm, periode, service, departement, region
    x: np.ndarray  # fine values, index sm * P + pair
    cells: pl.DataFrame  # cell, geo_niveau, geo_code, periode_niveau, periode, dimension, modalite, valeur, publiable
    support: sp.csr_matrix  # cells x fine cells
    nomenclature: Nomenclature

    @property
    def n_fine(self) -> int:
        return self.x.size

    @property
    def values(self) -> np.ndarray:
        return self.cells["valeur"].to_numpy()

    def fine_cells(self, cell: int) -> np.ndarray:
        """The fine cells (service-month * P + pair) a cell adds up."""
        return self.support.indices[self.support.indptr[cell]:self.support.indptr[cell + 1]]


def _geo_code(level: str) -> pl.Expr:
    return {"service": pl.col("service"), "departement": pl.col("departement"), "region": pl.col("region"),
            "national": pl.lit(NATIONAL_CODE)}[level]


def build_cube(fine: pl.DataFrame, services: pl.DataFrame, nomenclature: Nomenclature, published: PublishedSet) -> Cube:
    """`fine`: periode, service, dimension, modalite, effectif (zeros may be omitted); `services`: service, departement."""
    # A dimension absent from the data was not collected: it is not published as zeros.
    present = set(fine["dimension"].unique().to_list()) | {TOTAL_CODE}
    pairs = [(d, m) for d, m in nomenclature.pairs() if d in present]
    n_pairs = len(pairs)
    pair_index = pl.DataFrame({"dimension": [d for d, _ in pairs], "modalite": [m for _, m in pairs],
                               "pair": np.arange(n_pairs, dtype=np.int64)})
    regions = departement_region()
    sms = (
        fine.filter((pl.col("dimension") == TOTAL_CODE) & (pl.col("modalite") == TOTAL_CODE))
        .select("periode", "service").unique()
        .join(services.select("service", "departement"), on="service", how="left")
        .with_columns(pl.col("departement").replace_strict(regions, default=None).alias("region"))
        .sort("periode", "service")
        .with_row_index("sm")
        .with_columns(pl.col("sm").cast(pl.Int64))
    )
    if sms["departement"].null_count() or sms["region"].null_count():
        missing = sms.filter(pl.col("region").is_null())["service"].unique().to_list()[:5]
        raise ValueError(f"services sans département connu : {missing}")
    located = fine.join(sms.select("periode", "service", "sm"), on=["periode", "service"]).join(pair_index, on=["dimension", "modalite"])
    x = np.zeros(sms.height * n_pairs, dtype=np.int64)
    x[(located["sm"] * n_pairs + located["pair"]).to_numpy()] = located["effectif"].to_numpy()

    blocks, frames, offset = [], [], 0
    eye = sp.identity(n_pairs, dtype=np.int8, format="csr")
    for geo, period in COMBOS:
        keyed = sms.with_columns(_geo_code(geo).alias("geo_code"), period_expr(period, pl.col("periode")).alias("periode_code"))
        groups = keyed.select("geo_code", "periode_code").unique().sort("geo_code", "periode_code").with_row_index("group")
        keyed = keyed.join(groups, on=["geo_code", "periode_code"])
        membership = sp.csr_matrix(
            (np.ones(keyed.height, dtype=np.int8), (keyed["group"].to_numpy(), keyed["sm"].to_numpy())),
            shape=(groups.height, sms.height),
        )
        blocks.append(sp.kron(membership, eye, format="csr"))
        frames.append(
            groups.join(pair_index, how="cross").sort("group", "pair").select(
                pl.lit(geo).alias("geo_niveau"), pl.col("geo_code"), pl.lit(period).alias("periode_niveau"),
                pl.col("periode_code").alias("periode"), "dimension", "modalite",
            )
        )
        offset += groups.height * n_pairs
    support = sp.vstack(blocks, format="csr").astype(np.int8)
    values = support.astype(np.int64) @ x
    cells = pl.concat(frames).with_row_index("cell").with_columns(
        pl.col("cell").cast(pl.Int64),
        pl.Series("valeur", values, dtype=pl.Int64),
    )
    cells = cells.with_columns(pl.Series("publiable", _covers(cells, published), dtype=pl.Boolean))
    return Cube(pairs, sms, x, cells, support, nomenclature)


def _covers(cells: pl.DataFrame, published: PublishedSet) -> np.ndarray:
    """Whether each cell is in the published set, asked once per (geo level, period level, dimension)."""
    combos = cells.select("geo_niveau", "periode_niveau", "dimension").unique()
    combos = combos.with_columns(
        pl.Series("publiable", [published.covers(g, p, d) for g, p, d in combos.iter_rows()], dtype=pl.Boolean))
    return cells.join(combos, on=["geo_niveau", "periode_niveau", "dimension"], how="left", maintain_order="left")["publiable"].to_numpy()
