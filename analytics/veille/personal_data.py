"""The qualification comment must not hold personal data: refuse the obvious kinds (French message).

A comment says what the CTSS found and does about a rise (« réorganisation du service annoncée en
mars, cellule d'écoute mise en place »), never who is concerned. This check catches what a pattern
can: e-mail addresses, telephone numbers, social security numbers (NIR). It cannot catch a name:
the help text of the form says so.
"""

from __future__ import annotations

import re

HELP = ("Décrivez la situation collective et les suites données, sans aucune donnée personnelle : "
        "ni nom, ni adresse électronique, ni numéro de téléphone, ni numéro de sécurité sociale, ni détail "
        "permettant de reconnaître un agent (secret professionnel, article 226-13 du code pénal).")
MAX_LENGTH = 2000
_PATTERNS = (
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "une adresse électronique"),
    (re.compile(r"(?<!\d)(\+33\s?|0033\s?|0)[1-9]([\s.-]?\d{2}){4}(?!\d)"), "un numéro de téléphone"),
    (re.compile(r"(?<!\d)[12]\s?\d{2}\s?(0[1-9]|1[0-2])\s?(\d{2}|2[AB])\s?\d{3}\s?\d{3}(\s?\d{2})?(?!\d)"),
     "un numéro de sécurité sociale"),
)


class PersonalDataError(ValueError):
    """The comment was refused: the message (French) says why."""


def personal_data_found(text: str) -> list[str]:
    """What kinds of personal data the text seems to hold (empty when none)."""
    return [what for pattern, what in _PATTERNS if pattern.search(text or "")]


def check_comment(text: str) -> None:
    if len(text or "") > MAX_LENGTH:
        raise PersonalDataError(f"commentaire trop long ({len(text)} caractères, {MAX_LENGTH} au plus)")
    found = personal_data_found(text)
    if found:
        raise PersonalDataError(f"commentaire refusé : il semble contenir {' et '.join(found)}. Aucune donnée "
                                "personnelle ne doit figurer dans le registre des alertes : décrivez la situation "
                                "sans identifier personne.")
