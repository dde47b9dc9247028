"""Small presentation helpers shared by the pages (no data access)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

PARIS = ZoneInfo("Europe/Paris")
DEMO_NOTICE = "Données fictives de démonstration : aucun chiffre affiché ne décrit un service réel."


def sidebar(user) -> None:
    """Product name, the pages this user may open, and who is signed in.

    Drawn by each page's guard rather than by st.navigation's menu, so that it is the same
    whether the page was reached through app.py or directly by a first deep link.
    """
    from analytics.auth import ROLE_LABELS
    from analytics.navigation import visible_pages

    with st.sidebar:
        st.markdown("**Vigie** · observatoire et veille RPS du service social")
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
        st.divider()
        st.caption(f"{user.name} · profil {ROLE_LABELS[user.role]}")


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
