"""The Guard the loop consults before and after the model: refuse critical requests, redact secrets it writes."""

from __future__ import annotations

from ._redact import SecretRedactor
from ._risk import RISK_ORDER, Category, Risk, RiskAssessment, max_risk, score_risk

_ALTERNATIVES: dict[Category, dict[str, str]] = {
    "malware": {
        "en": "I can explain how this kind of malware works at a high level, how to detect it, and how to "
              "protect systems against it.",
        "fr": "Je peux expliquer dans les grandes lignes comment fonctionne ce type de logiciel malveillant, "
              "comment le détecter et comment s'en protéger.",
    },
    "exfiltration": {
        "en": "I can help you move data through an authorised, logged channel, or set up data-loss prevention "
              "to spot such transfers.",
        "fr": "Je peux vous aider à transférer des données par un canal autorisé et journalisé, ou à mettre en "
              "place une prévention des fuites de données.",
    },
    "credential_theft": {
        "en": "I can help you secure accounts instead: password managers, multi-factor authentication, and "
              "how to recognise phishing.",
        "fr": "Je peux plutôt vous aider à sécuriser des comptes : gestionnaire de mots de passe, "
              "authentification multifacteur, repérer l'hameçonnage.",
    },
}
_GENERIC = {
    "en": "I can help with a safe, authorised version of this task, or explain the defensive side of it.",
    "fr": "Je peux aider avec une version sûre et autorisée de cette tâche, ou en expliquer le volet défensif.",
}
_LEAD = {
    "en": "I can't help with that: the request was assessed as critical risk ({what}).",
    "fr": "Je ne peux pas aider pour cela : la demande a été jugée à risque critique ({what}).",
}
_NAMES = {
    "en": {"malware": "malware", "exfiltration": "data exfiltration", "credential_theft": "credential theft",
           "router": "flagged by the router"},
    "fr": {"malware": "logiciel malveillant", "exfiltration": "exfiltration de données",
           "credential_theft": "vol d'identifiants", "router": "signalée par le routeur"},
}


class SafetyGuard:
    """Refuses requests at or above `refuse_at` (own lexical score or the router's, whichever is higher),
    with a safe alternative in the request's language; redacts secrets from streamed output."""

    def __init__(self, *, refuse_at: Risk = "critical", redact: bool = True) -> None:
        self.refuse_at = refuse_at
        self.redact = redact
        self.last_assessment: RiskAssessment | None = None

    def assess(self, prompt: str) -> RiskAssessment:
        return score_risk(prompt)

    def check_input(self, prompt: str, *, risk: Risk | None) -> str | None:
        assessment = self.assess(prompt)
        self.last_assessment = assessment
        level = max_risk(assessment.level, risk)
        if level is None or RISK_ORDER[level] < RISK_ORDER[self.refuse_at]:
            return None
        return refusal_message(assessment, router_only=RISK_ORDER[assessment.level] < RISK_ORDER[self.refuse_at])

    def output_filter(self) -> SecretRedactor | _PassThrough:
        return SecretRedactor() if self.redact else _PassThrough()


class _PassThrough:
    def feed(self, text: str) -> str:
        return text

    def flush(self) -> str:
        return ""


def refusal_message(assessment: RiskAssessment, *, router_only: bool = False) -> str:
    language = assessment.language
    names = _NAMES[language]
    if router_only or not assessment.categories:
        what, alternatives = names["router"], [_GENERIC[language]]
    else:
        what = ", ".join(names[c] for c in assessment.categories)
        alternatives = [_ALTERNATIVES[c][language] for c in assessment.categories]
    return " ".join([_LEAD[language].format(what=what), *alternatives])
