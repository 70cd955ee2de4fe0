"""Tier 1: lexical rules. Cheap (well under a millisecond), explainable, and the tier that decides most requests.

`analyze()` turns one request into evidence: a score per intent, the actions it asks for (as tool effects),
risk cues, freshness cues, an output-format cue, and whether the request is too vague to act on.
The router turns that evidence into a decision; nothing here calls a model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .._hooks import Risk
from .._tools import Effect
from . import _lexicon as lx
from ._decision import INTENTS, Intent, Language, OutputFormat
from ._text import detect_language, fold, words

HEAD_CHARS, TAIL_CHARS = 3000, 1000
"""A long paste is judged by its first and last characters (where requests are written): routing stays
sub-millisecond whatever the size, while the full length still drives the choice of a long-context model."""

CHAT_PRIOR = 0.5
"""Chat is what is left when nothing else is asked for: it starts with a little evidence of its own."""

# Words that carry no object: a request made only of these names nothing to act on ("Corrige ça", "Fix this").
_GENERIC = frozenset(
    "fix this that it its the a an bug do please can you could would check help me send to him her them move later "
    "reply translate summarize summarise same for other one is right correct make faster better what about change "
    "why does doesn't don't work not working again just thing stuff look at ok okay so and or redo improve wrong "
    "there now i my up out on in with how was be done doesn isn don t s "
    "corrige ca cela ceci le la les l bug fais stp svp s il te plait tu peux pouvez vous verifier verifie regarde "
    "regarder aide moi envoie lui deplace a plus tard reponds traduis resume pareil pour autre refais c est bon ou "
    "pas marche fonctionne pourquoi plante optimise ameliore change encore truc ce ne y quoi et alors bien juste "
    "faux ici maintenant de du des un une je j ai faire transfere forward that's thing again finish termine "
    "continue vas-y go".split()
)
_VAGUE_GUESS: tuple[tuple[re.Pattern[str], Intent], ...] = (
    (re.compile(r"\b(fix|bug|corrige|plante|marche|work|faster|optimise|optimi[sz]e)\b"), "code"),
    (re.compile(r"\b(send|reply|forward|envoie|reponds|transfere)\b"), "mail"),
    (re.compile(r"\b(move|deplace)\b"), "calendar"),
    (re.compile(r"\b(summari[sz]e|resume)\b"), "file"),
)
_CAPABILITY_OF_CUE = {
    "image_generation": "image", "drawing": "image", "photo_editing": "image", "image_noun": "image",
    "media": "audio_video", "phone": "phone", "purchase": "purchase", "payment": "payment", "smart_home": "smart_home",
}
_FILE_REFERENCE_CUES = frozenset({"code_file", "doc_file", "path", "attached"})
_TEMPORAL = re.compile(
    r"\b(today|today's|aujourd'hui|now|right now|currently|current|actuel\w*|en ce moment|taux du jour|"
    r"exchange rate|taux de change)\b"
)


@dataclass
class Analysis:
    """What the rules saw in one request."""

    text: str
    folded: str
    length: int
    language: Language
    scores: dict[Intent, float]
    cues: dict[Intent, list[str]]
    actions: set[Effect] = field(default_factory=set)
    critical: str | None = None
    risk_cues: list[tuple[Risk, str]] = field(default_factory=list)
    fresh_strong: bool = False
    fresh_weak: bool = False
    temporal_currency: bool = False
    recent_year: bool = False
    reference_lookup: bool = False
    vague: bool = False
    vague_guess: Intent = "chat"
    greeting: bool = False
    creative: bool = False
    format_cue: OutputFormat | None = None
    capability: str | None = None
    how_to: bool = False

    @property
    def file_reference(self) -> bool:
        return any(name in _FILE_REFERENCE_CUES for names in self.cues.values() for name in names)

    def has(self, intent: Intent, cue_name: str) -> bool:
        return cue_name in self.cues[intent]

    def signals(self) -> list[str]:
        found = [f"{intent}:{name}" for intent in INTENTS for name in self.cues[intent]]
        found += [f"action:{a}" for a in sorted(self.actions)]
        found += [f"risk:{level}:{name}" for level, name in self.risk_cues]
        if self.fresh_strong or self.fresh_weak or self.recent_year:
            found.append("fresh:" + ("strong" if self.fresh_strong else "year" if self.recent_year else "weak"))
        if self.vague:
            found.append("vague")
        return found


def sample(text: str) -> str:
    """The part of a request the tiers read: all of it, or its head and tail when it is long."""
    if len(text) <= HEAD_CHARS + TAIL_CHARS:
        return text
    return text[:HEAD_CHARS] + "\n[...]\n" + text[-TAIL_CHARS:]


def analyze(text: str, *, year: int, has_history: bool = False) -> Analysis:
    length = len(text)
    text = sample(text)
    folded = fold(text)
    scores: dict[Intent, float] = dict.fromkeys(INTENTS, 0.0)
    cues: dict[Intent, list[str]] = {intent: [] for intent in INTENTS}
    for intent, table in lx.INTENT_CUES.items():
        for item in table:
            if item.pattern.search(text if item.raw else folded):
                scores[intent] += item.weight
                cues[intent].append(item.name)
    if "code_file" in cues["code"] and "path" in cues["file"] and "doc_file" not in cues["file"]:
        scores["file"] -= 2.0  # "handlers/orders.go" is a path to code, not to a document
        cues["file"].remove("path")
    scores["chat"] += CHAT_PRIOR
    numbers = len(re.findall(r"\d+(?:[.,]\d+)?", text))
    if numbers >= 3 and not cues["code"]:
        scores["calculation"] += 1.0
        cues["calculation"].append("many_numbers")
    analysis = Analysis(
        text=text, folded=folded, length=length, language=detect_language(text), scores=scores, cues=cues,
    )
    recent = [int(y) for y in (m.group(0) for m in re.finditer(r"\b(?:19|20)\d\d\b", text))]
    if any(year - 1 <= y <= year for y in recent):
        analysis.recent_year = True
        scores["web"] += 1.5
        cues["web"].append("recent_year")
    analysis.fresh_strong = bool(lx.FRESH_STRONG.search(folded))
    analysis.fresh_weak = bool(lx.FRESH_WEAK.search(folded))
    analysis.temporal_currency = bool(lx.CURRENCY.search(folded) and _TEMPORAL.search(folded))
    analysis.reference_lookup = bool(lx.REFERENCE_LOOKUP.search(folded))
    analysis.greeting = bool(cues["chat"] and {"greeting", "small_talk"} & set(cues["chat"]))
    analysis.creative = bool(lx.CREATIVE.search(folded))
    for fmt, pattern in lx.FORMAT_CUES:
        if pattern.search(folded):
            analysis.format_cue = fmt
            break
    for effect, action_cues in lx.ACTION_CUES.items():
        if any(c.pattern.search(folded) for c in action_cues):
            analysis.actions.add(effect)
    if re.search(r"^answer\b", folded) or ("write" in analysis.actions and lx.WITH_PEOPLE.search(folded)):
        analysis.actions.add("send")
    for name in cues["unsupported"]:
        analysis.capability = _CAPABILITY_OF_CUE.get(name)
        if analysis.capability:
            break
    _risk_cues(analysis)
    _vagueness(analysis, has_history=has_history)
    return analysis


def _risk_cues(analysis: Analysis) -> None:
    folded = analysis.folded
    for category, table in lx.CRITICAL_CUES.items():
        if any(c.pattern.search(folded) for c in table):
            if lx.DEFENSIVE.search(folded) and not lx.OFFENSIVE_MAKING.search(folded):
                analysis.risk_cues.append(("medium", f"security_defensive:{category}"))
            else:
                analysis.critical = category
                analysis.risk_cues.append(("critical", category))
            break
    if lx.PAYMENT.search(folded):
        analysis.risk_cues.append(("high", "payment"))
    if lx.MASS_ACTION.search(folded) and "send" in analysis.actions:
        analysis.risk_cues.append(("high", "mass_send"))
    if lx.HOW_TO.search(folded):
        analysis.how_to = True
    if lx.SECURITY_TOPIC.search(folded) and analysis.critical is None:
        analysis.risk_cues.append(("medium", "security_topic"))
    if lx.PURCHASE.search(folded):
        analysis.risk_cues.append(("medium", "purchase"))
    if lx.RUN_CODE.search(folded):
        analysis.risk_cues.append(("medium", "runs_code"))


def _vagueness(analysis: Analysis, *, has_history: bool) -> None:
    if has_history or analysis.greeting:
        return
    if not analysis.text.strip():  # an empty request names nothing to do: ask, rather than let the model guess
        analysis.vague = True
        return
    tokens = [part for word in words(analysis.folded) for part in re.split(r"[-']", word) if part]
    if not tokens or len(tokens) > 12 or any(ch.isdigit() for ch in analysis.text):
        return
    if all(token in _GENERIC for token in tokens):
        analysis.vague = True
        for pattern, intent in _VAGUE_GUESS:
            if pattern.search(analysis.folded):
                analysis.vague_guess = intent
                break


def risk_level(analysis: Analysis, intent: Intent) -> tuple[Risk, list[str]]:
    """The guide's four levels: low (answer), medium (prudence), high (restriction/validation), critical (refuse).

    Actions count for the intents that act on the user's things (code, files, mail, calendar), and not when the
    request only asks how something is done ("which git command undoes a commit?"). Medical and legal cues count
    when advice is sought (chat, web), not when the user's own files or mail merely mention a landlord.
    """
    folded = analysis.folded
    reasons: list[tuple[Risk, str]] = list(analysis.risk_cues)
    actions = set() if analysis.how_to else set(analysis.actions)
    if intent in ("chat", "web"):
        if lx.MEDICAL.search(folded):
            reasons.append(("medium", "medical_advice"))
        if lx.LEGAL.search(folded):
            reasons.append(("medium", "legal_or_tax"))
    if intent in ("file", "mail", "calendar"):
        if "destructive" in actions:
            reasons.append(("high", "destructive_action"))
        if actions & {"write", "send"}:
            reasons.append(("medium", "sends_on_behalf" if "send" in actions else "changes_user_data"))
    if intent == "code":
        if "destructive" in actions and lx.DESTRUCTIVE_DATA.search(folded):
            reasons.append(("high", "destroys_data"))
        errors = {"error_class", "crash", "failure"} & set(analysis.cues["code"])
        changes = not analysis.how_to and (
            lx.CODE_CHANGE.search(folded)
            or (lx.CODE_ADD.search(folded) and analysis.has("code", "code_file"))
        )
        if errors or changes:
            reasons.append(("medium", "code_change"))
    order: dict[Risk, int] = {"low": 0, "medium": 1, "high": 2, "critical": 3}
    level: Risk = max((r for r, _ in reasons), key=order.__getitem__, default="low")
    return level, [f"{r}:{name}" for r, name in reasons]
