"""`lint_prompt`: score a request against the guide's checklist of a good technical prompt (chapter 1.1).

Seven points: objective, file or function, exact error, expected result, constraints, output format, test to
run. Each is `present`, `vague` (mentioned but not exact: "the bug", "this file"), `missing`, or
`not_applicable` (an exact error only matters when something is broken). Detection is by English and French
patterns; suggestions come in the request's language. It is a checklist, not a judge: it says what to add.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

CheckKey = Literal["objective", "target", "error", "expected", "constraints", "format", "test"]
Status = Literal["present", "vague", "missing", "not_applicable"]
Language = Literal["en", "fr"]

_I = re.IGNORECASE

LABELS: dict[CheckKey, dict[Language, str]] = {
    "objective": {"en": "objective", "fr": "objectif"},
    "target": {"en": "file or function", "fr": "fichier ou fonction"},
    "error": {"en": "exact error", "fr": "erreur exacte"},
    "expected": {"en": "expected result", "fr": "résultat attendu"},
    "constraints": {"en": "constraints", "fr": "contraintes"},
    "format": {"en": "output format", "fr": "format de sortie"},
    "test": {"en": "test to run", "fr": "test à lancer"},
}

SUGGESTIONS: dict[CheckKey, dict[Language, str]] = {
    "objective": {
        "en": "start with one precise action and its object: 'Fix X in Y so that Z'",
        "fr": "commencez par une action précise et son objet : « Corrige X dans Y pour que Z »",
    },
    "target": {
        "en": "name the exact file and function, e.g. `app/billing.py`, function `charge()`",
        "fr": "nommez le fichier et la fonction exacts, ex. `app/billing.py`, fonction `charge()`",
    },
    "error": {
        "en": "paste the exact error message or traceback, not 'it fails'",
        "fr": "collez le message d'erreur exact ou le traceback, pas « ça plante »",
    },
    "expected": {
        "en": "say what should happen instead, measurably (value, output, duration)",
        "fr": "dites ce qui doit se passer à la place, de façon vérifiable (valeur, sortie, durée)",
    },
    "constraints": {
        "en": "state the limits: minimal patch, no new dependency or migration, versions, style (English-only code)",
        "fr": "posez les limites : patch minimal, pas de nouvelle dépendance ni migration, versions, style",
    },
    "format": {
        "en": "say what the answer must look like: a diff, before/after blocks, JSON, N bullet points",
        "fr": "précisez la forme de la réponse : diff, blocs avant/après, JSON, N puces",
    },
    "test": {
        "en": "give the command that proves it works, e.g. `pytest tests/test_billing.py -k charge`",
        "fr": "donnez la commande qui prouve que ça marche, ex. `pytest tests/test_billing.py -k charge`",
    },
}

_VERBS_EN = (r"fix|add|write|create|implement|refactor|optimi[sz]e|explain|remove|delete|rename|migrate|convert|"
             r"update|upgrade|debug|build|make|generate|document|speed\s+up|reduce|improve|replace|port|review|"
             r"design|summari[sz]e|translate|find|investigate|patch|change|move|split|merge|parse|handle|support|"
             r"compute|list|show|compare|densify|clean\s+up|set\s+up|configure|deploy|check")
_VERBS_FR = (r"corrige[rz]?|ajoute[rz]?|écri[st]|écrire|crée[rz]?|implémente[rz]?|refactorise[rz]?|optimise[rz]?|"
             r"explique[rz]?|supprime[rz]?|renomme[rz]?|migre[rz]?|convertis|convertir|mets?\s+à\s+jour|débogue[rz]?|"
             r"génère[rz]?|fais|faire|réduis|réduire|améliore[rz]?|remplace[rz]?|documente[rz]?|densifie[rz]?|"
             r"analyse[rz]?|résume[rz]?|traduis|traduire|trouve[rz]?|déplace[rz]?|calcule[rz]?|compare[rz]?|"
             r"nettoie[rz]?|configure[rz]?|vérifie[rz]?|gère[rz]?|répare[rz]?")
_OBJECTIVE = re.compile(rf"\b({_VERBS_EN}|{_VERBS_FR})\b|\b(i want|i need|we need|goal|je veux|j'ai besoin|"
                        rf"il faut|objectif|on doit|je voudrais|can you|peux-tu|pouvez-vous)\b", _I)
_EXT = (r"py|pyi|js|mjs|ts|tsx|jsx|go|rs|java|kt|c|h|cc|cpp|hpp|cs|rb|php|html?|css|scss|sql|ya?ml|json|toml|md|"
        r"sh|txt|ini|cfg|vue|swift|lua|r|ipynb|xml|gradle|tf|dockerfile")
_PATH = re.compile(rf"(?<![\w/])[\w.-]*(?:/[\w.-]+)+|\b[\w-]+\.(?:{_EXT})\b", _I)
_NAMED = re.compile(
    r"\b(function|fonction|method|méthode|class|classe|module|endpoint|view|model|modèle|component|"
    r"composant|table|command|commande|fixture|test)\s+`?[A-Za-z_][\w.]*`?\s*(\(\))?", _I)
_CALL = re.compile(r"`[A-Za-z_][\w.]*(\(\))?`|\b[A-Za-z_][\w.]*\(\)")
_VAGUE_TARGET = re.compile(r"\b(this|that|the|my|our)\s+(file|function|code|module|script|class)\b|"
                           r"\b(ce|cette|mon|ma|le|la|du)\s+(fichier|fonction|code|module|script|classe)\b", _I)
_EXACT_ERROR = re.compile(
    r"Traceback \(most recent call last\)|\b[A-Z]\w*(Error|Exception|Warning)\b|\b(error|erreur)\s*:\s*\S|"
    r"\b(exit|return|status)\s+code\s+-?\d+|\bHTTP\s*[45]\d\d\b|\b[45]\d\d\s+(error|erreur|Not Found|Internal)|"
    r"\bsegmentation fault\b|\bpanic:|\bfailed with\b.*[\"'`]|\b(échoue|plante)\s+avec\b.*[\"'`«]|"
    r"\b(raises?|lève|affiche|prints?|shows?|returns?|renvoie)\s+[\"'`«][^\"'`»]{4,}", _I)
_VAGUE_ERROR = re.compile(
    r"\b(bug|bugs|error|errors|erreur|erreurs|crash\w*|plante|fails?|failing|échoue|broken|cassé\w*|"
    r"doesn'?t work|not working|ne marche pas|ne fonctionne pas|issue|problème|wrong|faux|incorrect\w*|"
    r"stuck|bloqué|reste)\b", _I)
_FIX_INTENT = re.compile(r"\b(fix|debug|repair|corrige\w*|débogue\w*|répare\w*|bug|crash\w*|plante|fails?|"
                         r"échoue|broken|cassé|error|erreur|traceback|exception)\b", _I)
_EXPECTED = re.compile(
    r"\b(expected|expect|should|must\s+(return|be|show|print|output|give|pass)|so that|instead of|"
    r"result(s)?\s*:|outcome|in order to|to get|target\s*:|(that|which|it|qui)\s+(returns?|prints?|outputs?|"
    r"yields?|renvoie|retourne|affiche)\s+\w+|attendu\w*|devrai[te]?|doit\s+(retourner|renvoyer|"
    r"afficher|être|donner|passer)|au lieu de|pour que|afin que|je veux que|résultat|(under|below|less than|"
    r"moins de|sous)\s+\d+|from\s+\d+\s*\w*\s+to\s+\d+|de\s+\d+\s*\w*\s+à\s+(moins de\s+)?\d+)", _I)
_CONSTRAINTS = re.compile(
    r"\b(without|don'?t|do not|must not|never|only|keep|minimal|avoid|no new|no \w+ (change|migration|"
    r"dependency|dependencies|refactor|index)|english[- ]only|compatible|at most|backward|python\s*3(\.\d+)?|"
    r"django\s*\d|node\s*\d+|version|sans|ne pas|pas de|jamais|uniquement|seulement|garde[rz]?|conserve[rz]?|"
    r"évite[rz]?|au plus|ne change pas|ne touche pas|minimal\w*|limite\w*)\b", _I)
_FORMAT = re.compile(
    r"\b(format|as an? (diff|patch|table|list|json|script|function|bullet)|in (json|markdown|yaml|a table|"
    r"bullet points?)|bullets?|table|json|markdown|diff|patch|before/after|avant\s*/\s*après|code only|"
    r"one paragraph|(output|return|give)\s+only|only the code|just the code|(uniquement|seulement) le code|\d+\s+(lines|words|sentences|bullets|points|lignes|mots|phrases|puces)|output\s*:|"
    r"return only|step by step|numbered|sous forme|en json|tableau|liste|puces|bloc\w*\s+(avant|après)|"
    r"sortie|réponds en|réponse en|étapes|drop-in|snippet)\b", _I)
_TEST = re.compile(
    r"\b(tests?|pytest|unittest|npm (run )?test|make test|go test|cargo test|manage\.py test|tox|nox|"
    r"verify|vérifie\w*|reproduce|reprodui\w*|to check|pour vérifier|run `|lance[rz]?\s+`|python -m|"
    r"assert\w*|commande de test|smoke)\b", _I)

_FR_WORDS = re.compile(r"\b(le|la|les|des|du|une|est|pour|avec|sans|ça|cette|dans|qui|que|je|fais|corrige|"
                       r"fonction|fichier|erreur|pas)\b", _I)
_EN_WORDS = re.compile(r"\b(the|a|an|is|for|with|without|this|in|that|which|i|it|fix|function|file|error|not)\b", _I)


@dataclass(frozen=True)
class ChecklistItem:
    key: CheckKey
    label: str
    status: Status
    evidence: str | None = None
    suggestion: str | None = None


@dataclass(frozen=True)
class LintResult:
    prompt: str
    language: Language
    items: list[ChecklistItem]
    warnings: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        """Present items count 1, vague ones 0.5; not-applicable items are left out of `max_score`."""
        return sum(1.0 if i.status == "present" else 0.5 if i.status == "vague" else 0.0 for i in self.items)

    @property
    def max_score(self) -> int:
        return sum(1 for i in self.items if i.status != "not_applicable")

    @property
    def missing(self) -> list[ChecklistItem]:
        return [i for i in self.items if i.status in ("missing", "vague")]

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "max_score": self.max_score, "language": self.language,
                "items": [asdict(i) for i in self.items], "missing": [i.key for i in self.missing],
                "warnings": list(self.warnings)}

    def render(self) -> str:
        marks = {"present": "[x]", "vague": "[~]", "missing": "[ ]", "not_applicable": "[-]"}
        percent = round(100 * self.score / self.max_score) if self.max_score else 100
        lines = [f"score {self.score:g}/{self.max_score} ({percent}%)"]
        width = max(len(i.label) for i in self.items)
        for item in self.items:
            line = f"{marks[item.status]} {item.label:<{width}}"
            if item.status == "present" and item.evidence:
                line += f"  {item.evidence!r}"
            elif item.status == "vague":
                line += f"  vague ({item.evidence!r}): {item.suggestion}"
            elif item.status == "missing":
                line += f"  missing: {item.suggestion}"
            else:
                line += "  not applicable"
            lines.append(line)
        lines.extend(f"warning: {w}" for w in self.warnings)
        return "\n".join(lines)


def lint_prompt(prompt: str) -> LintResult:
    """Score `prompt` against the seven-point checklist; say what is missing and how to add it."""
    text = prompt.strip()
    language: Language = "fr" if len(_FR_WORDS.findall(text)) > len(_EN_WORDS.findall(text)) else "en"
    words = re.findall(r"\w+", text)
    items: list[ChecklistItem] = []

    def add(key: CheckKey, status: Status, evidence: str | None = None) -> None:
        suggestion = SUGGESTIONS[key][language] if status in ("missing", "vague") else None
        items.append(ChecklistItem(key, LABELS[key][language], status, evidence, suggestion))

    objective = _OBJECTIVE.search(text)
    if objective is None:
        add("objective", "missing")
    else:
        add("objective", "vague" if len(words) < 6 else "present", _around(text, objective))
    target = _PATH.search(text) or _NAMED.search(text) or _CALL.search(text)
    vague_target = _VAGUE_TARGET.search(text)
    add("target", "present" if target else "vague" if vague_target else "missing",
        _match(target or vague_target))
    exact = _EXACT_ERROR.search(text)
    if exact:
        add("error", "present", _around(text, exact))
    elif _FIX_INTENT.search(text):
        vague = _VAGUE_ERROR.search(text)
        add("error", "vague" if vague else "missing", _around(text, vague) if vague else None)
    else:
        add("error", "not_applicable")
    for key, pattern in (("expected", _EXPECTED), ("constraints", _CONSTRAINTS), ("format", _FORMAT),
                         ("test", _TEST)):
        found = pattern.search(text)
        add(key, "present" if found else "missing", _around(text, found) if found else None)  # type: ignore[arg-type]
    return LintResult(text, language, items, _anti_patterns(text, language))


def _anti_patterns(text: str, language: Language) -> list[str]:
    """The guide's anti-patterns: optimise without a metric, explain without a level, redo everything."""
    found: list[str] = []
    fr = language == "fr"
    if re.search(r"\boptimi[sz]\w*", text, _I) and not re.search(r"\d", text):
        found.append("« optimise » sans métrique : donnez la cible chiffrée (ex. de 2 min à moins de 5 s)" if fr
                     else "'optimize' without a metric: give a measurable target (e.g. from 2 min to under 5 s)")
    if re.search(r"\bexpl(ain|iqu)\w*", text, _I) and not re.search(
            r"\b(level|niveau|senior|junior|beginner|débutant|expert|for a|pour un)\b", text, _I):
        found.append("« explique » sans niveau cible : précisez pour qui (ex. ingénieur Django senior)" if fr
                     else "'explain' without a target level: say for whom (e.g. a senior Django engineer)")
    if re.search(r"\b(refais tout|redo everything|rewrite everything|tout réécrire|from scratch)\b", text, _I):
        found.append("« refais tout » sans limites : fixez le périmètre" if fr
                     else "'redo everything' without limits: set the scope")
    return found


def _match(match: re.Match[str] | None) -> str | None:
    return match.group(0).strip() if match else None


def _around(text: str, match: re.Match[str] | None, width: int = 40) -> str | None:
    """The matched words with a little context, for the report."""
    if match is None:
        return None
    start, end = match.start(), min(len(text), max(match.end(), match.start() + width))
    snippet = " ".join(text[start:end].split())
    return snippet if end >= len(text) else snippet + "…"
