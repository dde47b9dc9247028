"""Small presentation helpers shared by the pages (no data access)."""

from __future__ import annotations

import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError
from streamlit.runtime.scriptrunner import get_script_run_ctx

PARIS = ZoneInfo("Europe/Paris")
DEMO_NOTICE = "Données fictives de démonstration : aucun chiffre affiché ne décrit un service réel."


_run = threading.local()  # the sidebar's link slot of the script run in this thread


def _draw_links(user) -> None:
    from analytics.navigation import visible_pages

    section = None
    for spec in visible_pages(user):
        if spec.section != section:
            section = spec.section
            st.caption(section)
        try:
            # The observatory pages share their filters through the URL (a view is a link).
            shared = dict(st.query_params) if spec.shares_filters else None
            st.page_link(spec.file, label=spec.title, icon=spec.icon, query_params=shared)
        except StreamlitPageNotFoundError:  # a page file run on its own (AppTest) knows no other page
            st.markdown(spec.title)


def sidebar(user) -> None:
    """Product name, the pages this user may open, and who is signed in.

    Drawn by each page's guard rather than by st.navigation's menu, so that it is the same
    whether the page was reached through app.py or directly by a first deep link. The links sit
    in a slot that `refresh_links` redraws when a page changes the URL's filters during the run
    (no second run of the page just to update them)."""
    from analytics.auth import ROLE_LABELS

    with st.sidebar:
        st.markdown("**Vigie** · observatoire et veille RPS du service social")
        slot = st.empty()
        with slot.container():
            _draw_links(user)
        _run.links = (get_script_run_ctx(), slot, user)
        st.divider()
        st.caption(f"{user.name} · profil {ROLE_LABELS[user.role]}")


def refresh_links() -> bool:
    """Redraw the sidebar links with the URL's current query parameters; False when this run drew no sidebar."""
    ctx, slot, user = getattr(_run, "links", (None, None, None))
    if slot is None or ctx is not get_script_run_ctx():
        return False
    with slot.container():
        _draw_links(user)
    return True


def demo_banner(has_demo: bool) -> None:
    if has_demo:
        st.warning(DEMO_NOTICE, icon=":material/science:")


def fr_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        from datetime import timezone

        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M")
