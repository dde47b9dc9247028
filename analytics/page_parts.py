"""Streamlit pieces shared by the dashboard pages: the filter bar kept in the URL, and the data view
with its downloads. Presentation only: figures come from analytics.dashboard (published cells)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from contextlib import nullcontext
from dataclasses import replace

import polars as pl
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from analytics import dashboard
from analytics.dashboard import GRANULARITY_LABELS, Filters, Territory
from analytics.exports import table_csv, table_xlsx
from analytics.formatting import SECRET_LEGEND
from analytics.ui import refresh_links
from analytics.views import STATUT_SECRET, Scope, latest_publication


def user_scope(user) -> Scope:
    return Scope.parse(user.scope)


_run = threading.local()  # the publication in force as read by this script run (cache keys)


def require_publication():
    """The publication in force, or a message and a stop: no page shows figures without one."""
    publication = latest_publication()
    _run.publication = (get_script_run_ctx(), publication)
    if publication is None:
        st.info("Aucune publication n'est en vigueur : aucun chiffre ne peut être affiché. Un administrateur publie les "
                "données chargées depuis la page « Import des données » (la page d'accueil montre une publication en cours).")
        st.stop()
    return publication


def publication_caption(publication) -> None:
    st.caption(f"Publication n° {publication.number} du {publication.created_at:%d/%m/%Y}, seuil du secret statistique "
               f"k = {publication.k} · {SECRET_LEGEND}")


def set_query(query: dict[str, str]) -> None:
    """Write the shared filters to the URL; the sidebar links, drawn with the old ones, are redrawn in place
    (a second run of the page only to update them would double the time of every filter change)."""
    if dict(st.query_params) != query:
        st.query_params.from_dict(query)
        if not refresh_links():
            st.rerun()


def _set_query(filters: Filters) -> None:
    set_query(filters.to_query())


def filter_bar(scope: Scope, *, service_type: bool = True, period: bool = True) -> tuple[Filters, str]:
    """Territory, level, period and service type, read from and written to the URL query parameters (shared
    links, page to page).

    `service_type`: offer the type of service (only the types of the scope's published services); a
    chosen type narrows the territories to its services. Without it, a type in the URL is kept for the
    other pages but narrows nothing here. `period=False` leaves the period out (trend charts show them all).
    Returns the filters and the chosen territory's label."""
    asked_query = Filters.from_query(dict(st.query_params))
    columns = st.columns([3, 2, 2, 3] if service_type else [3, 2, 2])
    chosen_type = asked_query.service_type
    if service_type:
        types = [""] + cached(dashboard.service_types, scope)
        if len(types) > 1:
            chosen_type = columns[3].selectbox(
                "Type de service", types, index=types.index(chosen_type) if chosen_type in types else 0,
                format_func=dashboard.service_type_label, key="f_type",
                help="Choisir un type ne garde que ses services dans la liste des territoires : aucun chiffre "
                     "n'est publié pour un type de service dans son ensemble.") or None
        else:
            chosen_type = None
    narrowing = chosen_type if service_type else None
    options = dict(cached(dashboard.territory_options, scope, narrowing))  # once per run: resolve and the label reuse it
    keys = list(options)
    asked = dashboard.resolve(replace(asked_query, service_type=chosen_type), scope, keys)
    territory_key = columns[0].selectbox("Territoire", keys, index=keys.index(asked.territory.key()) if asked.territory.key() in keys else 0,
                                         format_func=options.get, key="f_territoire")
    filters = dashboard.resolve(replace(asked, territory=Territory.parse(territory_key)), scope, keys)
    levels = dashboard.granularities(filters.territory)
    if levels:
        level = columns[1].selectbox("Granularité", levels, index=levels.index(filters.granularity),
                                     format_func=GRANULARITY_LABELS.get, key="f_granularite")
        filters = dashboard.resolve(replace(filters, granularity=level), scope, keys)
    known = dashboard.periods(filters.granularity)[::-1] if period else []
    if known:
        chosen = columns[2].selectbox("Période", known, index=known.index(filters.period),
                                      format_func=dashboard.period_label, key="f_periode")
        filters = replace(filters, period=chosen)
    elif not period and asked_query.period:
        filters = replace(filters, period=asked_query.period)  # kept for the other pages
    _set_query(filters)
    return filters, options.get(filters.territory.key(), filters.territory.code)


def dashboard_header(title: str, user, *, service_type: bool = True) -> tuple[Scope, Filters, str]:
    """What every filtered dashboard page starts with: title, publication in force, filters, advice.

    Returns the user's scope, the filters and the chosen territory's label."""
    st.title(title)
    publication = require_publication()
    scope = user_scope(user)
    filters, where = filter_bar(scope, service_type=service_type)
    publication_caption(publication)
    granularity_advice(filters, scope)
    return scope, filters, where


def granularity_advice(filters: Filters, scope: Scope) -> None:
    coarser = cached(dashboard.granularity_advice, filters, scope)
    if coarser is None:
        return
    st.warning(f"La plupart des chiffres de ce niveau sont couverts par le secret statistique. "
               f"Le niveau « {GRANULARITY_LABELS[coarser].lower()} » en montre davantage.", icon=":material/visibility_off:")
    if st.button(f"Passer au niveau « {GRANULARITY_LABELS[coarser].lower()} »", key="coarser"):
        st.query_params.from_dict({**filters.to_query(), "granularite": coarser, "periode": ""})
        for key in ("f_granularite", "f_periode"):
            st.session_state.pop(key, None)
        st.rerun()


# --------------------------------------------------------------------------- figures, memoised


_MEMO_ENTRIES = 256
_memo: OrderedDict = OrderedDict()
_memo_lock = threading.Lock()


def _publication_key() -> tuple:
    ctx, publication = getattr(_run, "publication", (None, None))
    if publication is None or ctx is not get_script_run_ctx():
        publication = latest_publication()
    return (publication.number, str(publication.created_at)) if publication else (None, None)


def cached(fn, *args, **kwargs):
    """`fn(*args, **kwargs)` memoised per publication in force, for the analytics functions of the pages
    (dashboard.headline, rps.indicator_table...) whose arguments are plain values (Filters, Scope, codes).

    The scope is an argument, so it is part of the key (the cache is shared by every session, notes §0.3);
    the publication's number and creation time are too, so a new publication is never served stale. The
    results are made of published cells only. Frames come back as clones (callers may add columns)."""
    key = (_publication_key(), fn.__module__, fn.__qualname__, args, tuple(sorted(kwargs.items())))
    with _memo_lock:
        found = key in _memo
        if found:
            _memo.move_to_end(key)
            value = _memo[key]
    if not found:
        value = fn(*args, **kwargs)
        with _memo_lock:
            _memo[key] = value
            while len(_memo) > _MEMO_ENTRIES:
                _memo.popitem(last=False)
    return value.clone() if isinstance(value, pl.DataFrame) else value


# --------------------------------------------------------------------------- charts


_SPEC_ENTRIES = 96
_specs: OrderedDict = OrderedDict()
_specs_lock = threading.Lock()
try:
    from streamlit.elements.vega_charts import _altair_globals_lock as _altair_lock
except ImportError:  # pragma: no cover - depends on the Streamlit version
    _altair_lock = threading.Lock()


def _frame_key(frame: pl.DataFrame) -> tuple:
    """The exact content of a (small) chart frame, as a cache key (no sampling, notes §0.3)."""
    return tuple(frame.columns), tuple(str(t) for t in frame.dtypes), tuple(frame.iter_rows())


def _arrow_datasets(spec: dict) -> dict:
    """The spec with its inline tabular datasets serialised to Arrow once (what st.vega_lite_chart would do on every run)."""
    try:
        from streamlit import dataframe_util
    except ImportError:  # pragma: no cover - depends on the Streamlit version
        return spec
    datasets = {}
    for name, values in spec.get("datasets", {}).items():
        if values and isinstance(values[0], dict) and values[0].get("type") == "Feature":
            datasets[name] = values  # geometry stays inline (Streamlit keeps GeoJSON in the spec)
            continue
        frame = pl.DataFrame(values, infer_schema_length=None) if values else None
        datasets[name] = dataframe_util.convert_anything_to_arrow_bytes(frame) if frame is not None and frame.width else values
    return {**spec, "datasets": datasets} if datasets else spec


def chart_spec(builder, frame: pl.DataFrame, *args, **kwargs) -> dict:
    """The Vega-Lite spec of `builder(frame, *args, **kwargs)` (an analytics.charts builder), memoised in the process.

    Building an Altair chart and validating it costs 20 to 60 ms; a filter change redraws the same charts
    with the same frames most of the time. The key is the builder, the frame's exact content and the
    arguments (plain values): it holds only what the chart itself sends to the browser, so the cache is
    shared by every session without crossing scopes (two scopes share an entry only for identical data)."""
    key = (builder.__module__, builder.__qualname__, _frame_key(frame), args, tuple(sorted(kwargs.items())))
    with _specs_lock:
        spec = _specs.get(key)
        if spec is not None:
            _specs.move_to_end(key)
            return spec
    import altair as alt

    from analytics.charts import SPEC_BUILDERS

    fast = SPEC_BUILDERS.get(builder)
    built = builder(frame, *args, **kwargs) if fast is None else None
    # As st.altair_chart does: no default theme (its fixed sizes), no row limit (the frames are already the
    # aggregated published cells), under Streamlit's lock since these settings are global to all threads.
    with _altair_lock, alt.data_transformers.enable("default", max_rows=None):
        with alt.theme.enable("none") if alt.theme.active == "default" else nullcontext():
            # the builders' specs are validated by tests/test_charts.py
            spec = built.to_dict(validate=False) if fast is None else fast(frame, *args, **kwargs)
    spec = _arrow_datasets(spec)
    with _specs_lock:
        _specs[key] = spec
        while len(_specs) > _SPEC_ENTRIES:
            _specs.popitem(last=False)
    return spec


def chart(builder, frame: pl.DataFrame, *args, alt: str, key: str | None = None, on_select="ignore", **kwargs):
    """Draw `builder(frame, *args, **kwargs)` from the memoised spec (`chart_spec`); returns the selection state
    when `on_select` is set (maps)."""
    spec = chart_spec(builder, frame, *args, **kwargs)
    return st.vega_lite_chart(spec, alt=alt, key=key, on_select=on_select)


def trend_view(frame: pl.DataFrame, title: str, value_label: str, *, alt: str, name: str, compare: bool = True,
               large: bool = False, sheet: str = "Tendance") -> None:
    """A published series (periode, valeur, statut) as a line with gaps at secrets, the same periods a year
    earlier dashed when `compare`, and its table with downloads (Tendances, Problématiques, Indicateurs RPS)."""
    from analytics import charts

    chart(charts.trend_chart, frame.select("periode", "valeur", "statut"), title, compare_previous_year=compare,
          large=large, alt=alt)
    secrets = int((frame["statut"] == STATUT_SECRET).sum())
    if secrets:
        st.caption(f"{secrets} période(s) couverte(s) par le secret statistique : la courbe s'interrompt (« s »).")
    shown = frame.with_columns(frame["periode"].map_elements(dashboard.period_label, return_dtype=pl.String).alias("libelle_periode"))
    data_view(dashboard.display_table(shown, {"libelle_periode": "Période", "valeur": value_label}), name, sheet)


# --------------------------------------------------------------------------- tables


def data_view(table, name: str, title: str) -> None:
    """« Voir les données »: exactly the table behind a chart, with CSV and XLSX downloads of it."""
    with st.expander("Voir les données"):
        st.dataframe(table, hide_index=True, width="stretch")
        st.caption(SECRET_LEGEND)
        left, right = st.columns(2)
        # The files are made when asked for (a callable), not on every run of the page.
        left.download_button("Télécharger (CSV)", lambda: table_csv(table, SECRET_LEGEND), file_name=f"{name}.csv",
                             mime="text/csv", key=f"csv_{name}")
        right.download_button("Télécharger (XLSX)", lambda: table_xlsx(table, title, SECRET_LEGEND), file_name=f"{name}.xlsx",
                              mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key=f"xlsx_{name}")
