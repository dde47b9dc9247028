"""Vigie: entry point and router. Each page guards itself and draws the sidebar (pages may run without this file)."""

import streamlit as st

from analytics.auth import current_user
from analytics.navigation import visible_pages

pages = [
    st.Page(spec.file, title=spec.title, icon=spec.icon, url_path=spec.url_path, default=spec.url_path == "accueil")
    for spec in visible_pages(current_user())
]
st.navigation(pages, position="hidden").run()
