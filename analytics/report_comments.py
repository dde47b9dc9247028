"""The comment a CTSS writes in the app for a report, kept with the publication it comments (table report_comment).

A comment belongs to (publication, report type, territory, year); every save is a new row with its author
and date, and the latest is the comment in force. When the publication in force has no comment yet, the
latest comment of an earlier publication for the same report is offered (and said to be so), so that a
new publication does not lose the CTSS's text.

A report circulates to the DREAL, the HR direction and committees: a comment must never carry personal
data. `personal_data_problems` refuses what certainly is (e-mail, telephone, social security number) and
`personal_data_warnings` points at what may be (a civility followed by a name, a date of birth).
The Rapports page and the CLI go through this module, never through the store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from analytics import store

MAX_LENGTH = 6000
# report_comment.territory: VARCHAR(600). The longest key is a fiche F3SCT's sorted service codes, at most
# fiche_f3sct.MAX_SERVICES = 8 of 64 characters with 7 commas: 519 (tests/test_store_schema.py pins it).
TERRITORY_LENGTH = store.report_comment.c.territory.type.length
PERSONAL_DATA_NOTICE = ("N'écrivez aucune donnée personnelle : ni nom, ni situation individuelle, ni date, lieu ou détail "
                        "permettant de reconnaître un agent. Le bilan est transmis à la DREAL et à la direction des "
                        "ressources humaines ; il ne décrit que des tendances collectives.")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_PHONE = re.compile(r"(?<!\d)(?:\+33\s?|0)[1-9](?:[\s.-]?\d{2}){4}(?!\d)")
_NIR = re.compile(r"(?<!\d)[12]\s?\d{2}\s?(?:0[1-9]|1[0-2]|[2-9]\d)\s?(?:\d{2}|2[AB])\s?\d{3}\s?\d{3}(?:\s?\d{2})?(?!\d)")
_CIVILITY = re.compile(r"\b(?:M\.|Mme|Mlle|Monsieur|Madame|Mademoiselle|Dr|Docteur)\s+[A-ZÀ-ÖØ-Þ][\w'-]+")
_BIRTH = re.compile(r"\b(?:né|née|naissance)\b", re.IGNORECASE)
_DATE = re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b")


class CommentRefused(ValueError):
    """A comment that cannot be kept (personal data, too long): the message says why, in French."""


@dataclass(frozen=True)
class ReportComment:
    text: str
    author: str
    saved_at: datetime
    publication: int  # the publication the comment was written for
    inherited: bool  # True: written for an earlier publication, offered for the one in force


def personal_data_problems(text: str) -> list[str]:
    """What certainly identifies a person: the comment is refused while any is present."""
    problems = []
    if _EMAIL.search(text):
        problems.append("une adresse électronique")
    if _PHONE.search(text):
        problems.append("un numéro de téléphone")
    if _NIR.search(text):
        problems.append("un numéro de sécurité sociale")
    return problems


def personal_data_warnings(text: str) -> list[str]:
    """What may point at a person: shown to the author, who decides."""
    warnings = []
    if _CIVILITY.search(text):
        warnings.append("une civilité suivie d'un nom (« M. », « Mme »…)")
    if _BIRTH.search(text) or _DATE.search(text):
        warnings.append("une date précise ou de naissance")
    return warnings


def _check(text: str) -> str:
    text = (text or "").replace("\r\n", "\n").strip()
    if len(text) > MAX_LENGTH:
        raise CommentRefused(f"Commentaire trop long : {len(text)} caractères pour {MAX_LENGTH} au plus.")
    problems = personal_data_problems(text)
    if problems:
        raise CommentRefused("Commentaire refusé : il contient " + " et ".join(problems)
                             + ". Un rapport ne doit contenir aucune donnée personnelle.")
    return text


def save_comment(publication: int, report_type: str, territory: str, year: int, text: str, author: str,
                 engine: Engine | None = None) -> ReportComment:
    """Keep a new version of the comment; an empty text clears it. CommentRefused on personal data or a territory
    longer than the column."""
    text = _check(text)
    if len(territory) > TERRITORY_LENGTH:  # PostgreSQL would refuse it in English, SQLite keep it: refuse it here
        raise CommentRefused(f"Commentaire non enregistré : le territoire du rapport ({len(territory)} caractères) "
                             f"dépasse les {TERRITORY_LENGTH} caractères prévus ; choisissez moins de services.")
    engine = engine or store.get_engine()
    now = datetime.now(timezone.utc)
    c = store.report_comment
    with engine.begin() as conn:
        known = conn.execute(sa.select(store.publication.c.id).where(store.publication.c.id == publication)).scalar()
        if known is None:
            raise CommentRefused(f"La publication n° {publication} n'existe pas.")
        conn.execute(c.insert().values(publication_id=publication, report_type=report_type, territory=territory,
                                       annee=int(year), comment=text, author=(author or "inconnu")[:120], saved_at=now))
    return ReportComment(text, author, now, publication, inherited=False)


def read_comment(publication: int, report_type: str, territory: str, year: int,
                 engine: Engine | None = None) -> ReportComment | None:
    """The comment in force for the report: the latest saved for this publication, else the latest of an earlier one.

    None when there is none, or when the latest save emptied it."""
    engine = engine or store.get_engine()
    c = store.report_comment
    query = (sa.select(c.c.comment, c.c.author, c.c.saved_at, c.c.publication_id)
             .where(c.c.report_type == report_type, c.c.territory == territory, c.c.annee == int(year),
                    c.c.publication_id <= publication)
             .order_by(c.c.publication_id.desc(), c.c.id.desc()).limit(1))
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None or not row.comment:
        return None
    saved = row.saved_at if row.saved_at.tzinfo else row.saved_at.replace(tzinfo=timezone.utc)
    return ReportComment(row.comment, row.author, saved, int(row.publication_id), inherited=int(row.publication_id) != publication)


def comment_history(publication: int, report_type: str, territory: str, year: int,
                    engine: Engine | None = None) -> list[ReportComment]:
    """Every saved version for the report up to this publication, newest first."""
    engine = engine or store.get_engine()
    c = store.report_comment
    query = (sa.select(c.c.comment, c.c.author, c.c.saved_at, c.c.publication_id)
             .where(c.c.report_type == report_type, c.c.territory == territory, c.c.annee == int(year),
                    c.c.publication_id <= publication)
             .order_by(c.c.publication_id.desc(), c.c.id.desc()))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [ReportComment(r.comment, r.author, r.saved_at if r.saved_at.tzinfo else r.saved_at.replace(tzinfo=timezone.utc),
                          int(r.publication_id), inherited=int(r.publication_id) != publication) for r in rows]
