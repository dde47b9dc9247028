"""Small presentation helpers shared by the pages (no data access)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import streamlit as st

PARIS = ZoneInfo("Europe/Paris")
DEMO_NOTICE = "Données fictives de démonstration : aucun chiffre affiché ne décrit un service réel."


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
