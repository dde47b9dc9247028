"""The pages of the app, who may open them, and under which title: one list for app.py and the guards."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PageSpec:
    file: str  # relative to the project root
    title: str
    icon: str
    section: str
    roles: tuple[str, ...] = ()  # empty: every signed-in profile
    shares_filters: bool = False  # reads the shared filters (territory, level, period) from the URL

    @property
    def url_path(self) -> str:
        # Same as the file stem: before any session has run st.navigation, Streamlit routes a
        # deep link by file name (v1 multipage, streamlit-notes §0.1); both routings then agree.
        return Path(self.file).stem


PAGES = (
    PageSpec("pages/accueil.py", "Accueil", ":material/home:", "Observatoire"),
    PageSpec("pages/vue_ensemble.py", "Vue d'ensemble", ":material/dashboard:", "Observatoire", shares_filters=True),
    PageSpec("pages/problematiques.py", "Problématiques", ":material/grid_on:", "Observatoire", shares_filters=True),
    PageSpec("pages/axes_modes.py", "Axes et modes d'intervention", ":material/category:", "Observatoire", shares_filters=True),
    PageSpec("pages/territoires.py", "Territoires", ":material/map:", "Observatoire", shares_filters=True),
    PageSpec("pages/tendances.py", "Tendances", ":material/show_chart:", "Observatoire", shares_filters=True),
    PageSpec("pages/indicateurs_rps.py", "Indicateurs RPS", ":material/health_and_safety:", "Observatoire", shares_filters=True),
    PageSpec("pages/veille_rps.py", "Veille RPS", ":material/notifications_active:", "Observatoire", shares_filters=True),
    PageSpec("pages/rapports.py", "Rapports", ":material/description:", "Rapports"),
    PageSpec("pages/import_donnees.py", "Import des données", ":material/upload_file:", "Administration", ("admin",)),
)


def page_for(file: str) -> PageSpec:
    name = Path(file).name
    for spec in PAGES:
        if Path(spec.file).name == name:
            return spec
    raise KeyError(f"page inconnue : {name}")


def visible_pages(user) -> list[PageSpec]:
    return [spec for spec in PAGES if user.can(*spec.roles)]
