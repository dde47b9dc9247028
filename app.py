"""Vigie: entry point. Navigation by role; each page still guards itself (pages may run without this file)."""

import streamlit as st

from analytics.auth import ROLE_LABELS, require
from analytics.navigation import visible_pages

user = require()
sections: dict[str, list] = {}
for spec in visible_pages(user):
    sections.setdefault(spec.section, []).append(
        st.Page(spec.file, title=spec.title, icon=spec.icon, url_path=spec.url_path, default=spec.url_path == "accueil")
    )
navigation = st.navigation(sections)
with st.sidebar:
    st.markdown("**Vigie** · observatoire et veille RPS du service social")
    st.caption(f"{user.name} · profil {ROLE_LABELS[user.role]}")
navigation.run()
