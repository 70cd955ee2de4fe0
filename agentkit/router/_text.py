"""Text normalisation shared by the rules and the classifier: one form for English and French alike.

Accents are folded ("réunion" -> "reunion") and typographic apostrophes straightened so that a pattern
written once matches "Résume", "resume" and "RÉSUMÉ", and a user who types without accents is still understood.
"""

from __future__ import annotations

import re
import unicodedata

from ._decision import Language

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "«": '"', "»": '"', "“": '"', "”": '"'})
_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")

_FR_WORDS = frozenset(
    "le la les de des du un une et est pour avec dans sur mon ma mes ton ta tes je j tu il elle nous vous ca ce "
    "cette ces cet qui que quoi quel quelle quels quelles pas ne au aux en y moi toi lui leur leurs d l qu c "
    "combien comment pourquoi sont fait fais peux veux dois mais ou donc car chez son sa ses notre votre "
    "tous toutes tout toute demain hier aujourd'hui semaine mois fichier dossier merci bonjour salut stp svp "
    "s'il quand entre sans sous vers apres avant calcule convertis corrige envoie ecris donne fais cherche trouve "
    "montre lis resume explique traduis supprime ajoute planifie deplace annule reponds cree genere dessine "
    "litres heures jours semaines".split()
)
_EN_WORDS = frozenset(
    "the of to and a an is are my me i you what how in for on with this that it do does can please from at by "
    "be your all any there which who why when where have has will would should about into than then if not "
    "no yes get give tell show write make find summarize send delete file folder email meeting thanks hello "
    "hi today tomorrow week month am was were been our their them they he she his her its we us i'm i'll "
    "what's it's don't doesn't".split()
)
_FR_LETTERS = re.compile(r"[éèêàâçùûîôœëï]")


def fold(text: str) -> str:
    """Lower-case, accents removed, apostrophes and quotes straightened."""
    text = text.translate(_APOSTROPHES).lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("œ", "oe")


def words(folded: str) -> list[str]:
    """Word tokens of already-folded text (hyphenated and apostrophe forms kept whole: "aujourd'hui")."""
    return _WORD.findall(folded)


def detect_language(text: str) -> Language:
    """English or French, from function words and French letters; English on a tie."""
    lowered = text.translate(_APOSTROPHES).lower()
    tokens = re.findall(r"[a-zà-ÿœ']+", lowered)
    parts: list[str] = []
    for token in tokens:  # "l'agenda" -> "l", "agenda"; "aujourd'hui" stays whole
        parts.extend([token] if token in _FR_WORDS or token in _EN_WORDS else token.split("'"))
    french = sum(1 for t in parts if fold(t) in _FR_WORDS)
    english = sum(1 for t in parts if t in _EN_WORDS)
    if _FR_LETTERS.search(lowered):
        french += 1
    return "fr" if french > english else "en"
