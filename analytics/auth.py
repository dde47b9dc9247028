"""Who is looking, and what they may see. Every page file calls `require` first.

A deep link can run a page file without app.py (streamlit-notes §0.1), so the guard works
out the user itself and never trusts state that app.py may or may not have set.
Until accounts arrive, the deployment declares the local user's role (VIGIE_DEFAULT_ROLE,
`admin` by default for the single-user SQLite setup); an OIDC login (st.user) with a role
mapping comes with the accounts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import streamlit as st

from analytics.nomenclature import NomenclatureError, default_nomenclature

ROLES = ("national", "regional", "local", "admin")
ROLE_LABELS = {"national": "national", "regional": "régional", "local": "local", "admin": "administrateur"}
APP_TITLE = "Vigie"


@dataclass(frozen=True)
class User:
    name: str
    role: str
    scope: str  # "FR", a région code, or a service code

    def can(self, *roles: str) -> bool:
        return not roles or self.role in roles or self.role == "admin"


def current_user() -> User:
    role = os.environ.get("VIGIE_DEFAULT_ROLE", "admin")
    if role not in ROLES:
        role = "national"
    scope = os.environ.get("VIGIE_DEFAULT_SCOPE", "FR")
    name = os.environ.get("VIGIE_USER", "utilisateur local")
    return User(name=name, role=role, scope=scope)


def configure_page(title: str | None = None) -> None:
    st.set_page_config(page_title=f"{title} · {APP_TITLE}" if title else APP_TITLE, page_icon=":material/monitoring:", layout="wide")


def require(page_file: str | None = None) -> User:
    """Stop the page unless the preset loads and the user may open `page_file` (its roles in navigation.PAGES)."""
    from analytics.navigation import page_for

    spec = page_for(page_file) if page_file else None
    roles = spec.roles if spec else ()
    configure_page(spec.title if spec else None)
    try:
        default_nomenclature()
    except NomenclatureError as exc:
        st.error("Vigie ne peut pas démarrer : la nomenclature configurée est invalide.")
        st.code(str(exc), language=None)
        st.stop()
    user = current_user()
    from analytics.ui import sidebar

    sidebar(user)
    if not user.can(*roles):
        st.error("Accès réservé : cette page n'est pas ouverte à votre profil.")
        st.stop()
    return user
