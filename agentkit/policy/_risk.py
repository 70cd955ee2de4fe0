"""A small lexical risk scorer (English and French) for three critical harms: malware, exfiltration and
credential theft. Independent of the router on purpose: a second, simple opinion that cannot be argued with.

A request scores when it combines an *act* (write, steal, send secretly...) with a *harmful object*
(ransomware, keylogger, passwords of others...), more with stealth cues (undetectable, without them
knowing), less with defensive framing (how to protect, detect, remove). Single scary words are not enough:
"how do I protect my company from ransomware?" stays low.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

Risk = Literal["low", "medium", "high", "critical"]
Category = Literal["malware", "exfiltration", "credential_theft"]
RISK_ORDER: dict[Risk, int] = {"low": 0, "medium": 1, "high": 2, "critical": 3}


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(alternatives) + r")(?![a-z0-9])")


# --- vocabulary (matched on lower-cased text with accents removed) -------------------------------------------
_MAKE = _rx(
    r"write|writ(?:e|ing)|create|build|code|make|develop|generate|program|craft|design|deploy|spread|install",
    r"give me (?:the )?code|show me how to (?:make|build|write)",
    r"ecri(?:s|re|vez)|cree(?:r|z)?|construi(?:s|re|sez)|code(?:r|z)?|fabrique(?:r|z)?|developpe(?:r|z)?",
    r"gener(?:e|er|ez)|programme(?:r|z)?|deploie(?:r|z)?|propage(?:r|z)?|installe(?:r|z)?",
)
_MALWARE = _rx(
    r"ransomware|keylogger|key logger|trojan|rootkit|botnet|worm|computer virus|virus|malware|spyware|stalkerware",
    r"infostealer|info stealer|cookie stealer|password stealer|backdoor|reverse shell|rat|remote access trojan",
    r"cryptojacker|crypto miner that hides|logic bomb|wiper|dropper|payload that",
    r"rancongiciel|logiciel malveillant|cheval de troie|enregistreur de frappe|porte derobee|ver informatique",
    r"logiciel espion|virus informatique",
)
_STEALTH = _rx(
    r"undetectable|undetected|without (?:being )?(?:detected|noticed)",
    r"without (?:them|anyone|anybody|(?:my|the|our|his|her|their) [a-z]+) (?:knowing|noticing|finding out)",
    r"bypass(?:es|ing)? (?:antivirus|av|edr|defender|detection|the firewall)|evade (?:antivirus|av|edr|detection)",
    r"secretly|covertly|silently|in the background without|hide (?:it|itself) from",
    r"indetectable|sans (?:etre|qu'?il|qu'?elle|qu'?ils|que (?:l'utilisateur|personne)) (?:detecte|remarque|sache|le sache|s'en rende)",
    r"contourner (?:l'antivirus|l'edr|la detection|le pare-feu)|en secret|discretement|a son insu|a leur insu",
)
_STEAL = _rx(
    r"steal|stealing|harvest|harvesting|grab|grabbing|dump|dumping|exfiltrate|exfiltrating|siphon|skim|sniff",
    r"phish|phishing|capture|crack|brute[ -]?force|hijack|intercept|log (?:their|all) keystrokes",
    r"vole(?:r|z)?|recolte(?:r|z)?|aspire(?:r|z)?|exfiltre(?:r|z)?|intercepte(?:r|z)?|pirate(?:r|z)?|craque(?:r|z)?",
    r"hameconn(?:er|age)|capture(?:r|z)?|dump(?:er)?",
)
_CREDENTIALS = _rx(
    r"passwords?|credentials?|logins?|login details|session (?:cookies|tokens)|cookies|auth(?:entication)? tokens?",
    r"2fa codes?|otp codes?|mfa codes?|api keys?|private keys?|ssh keys?|lsass|ntlm hashes?|password hashes?",
    r"bank(?:ing)? details|credit card numbers?",
    r"mots? de passe|identifiants|cookies de session|jetons?|codes? 2fa|cles? (?:privees?|api|ssh)",
    r"coordonnees bancaires|numeros? de carte",
)
_CRED_TOOLS = _rx(r"mimikatz|lazagne|hashcat against|credential harvest(?:er|ing)|fake login page|phishing (?:page|kit|site)",
                  r"faux? (?:site|page) de connexion|page de phishing|kit de phishing")
_SEND = _rx(
    r"send|upload|copy|transfer|forward|post|sync|mirror|leak|exfiltrate|smuggle|beam",
    r"envoie(?:r|z)?|televerse(?:r|z)?|copie(?:r|z)?|transfere(?:r|z)?|fais suivre|fuite(?:r)?|exfiltre(?:r|z)?",
)
_THIRD_PARTY_DATA = _rx(
    r"(?:customer|client|employee|user|patient|member)s?'? ?(?:data|records|database|list|emails|files|details)",
    r"(?:the|our|company'?s?|customer|client|entire|production) database|source code of the company|company secrets",
    r"(?:donnees|fichiers|base(?: de donnees)?|liste) (?:des )?(?:clients?|employes|patients|utilisateurs)",
    r"base de donnees (?:de l'entreprise|de production)|secrets de l'entreprise",
)
_BULK = _rx(
    r"all (?:the |of the |my |our )?(?:files|emails|documents|records|contacts|data)|every (?:file|email|document|record)",
    r"the whole (?:drive|inbox|database)|toute?s? (?:les |la |mes )?(?:donnees|fichiers|e-?mails|courriels|documents|contacts)",
)
_EXTERNAL = _rx(
    r"(?:to )?(?:my|an|a|this) (?:personal|external|private|outside|remote|own) (?:server|address|account|email|drive|bucket)",
    r"pastebin|to an ip|to my server|attacker|without (?:them|the company|anyone|my boss|it) (?:knowing|noticing)",
    r"(?:vers|a|sur) (?:mon|un) (?:serveur|compte|adresse) (?:perso(?:nnel)?|externe|prive)|sans que (?:personne|l'entreprise) (?:le )?sache",
)
_DEFENSIVE = _rx(
    r"protect|prevent|defend|detect|detection of|remove|get rid of|recover from|recognize|recognise|spot|avoid",
    r"mitigate|secure|harden|what is|how does .* work|explain|awareness|training|report",
    r"proteger|se proteger|prevenir|defendre|detecter|supprimer|eliminer|reconnaitre|eviter|securiser|expliquer|qu'est-ce",
)
_FRENCH = _rx(r"le|la|les|des|une|un|mon|mes|pour|avec|sans|qui|est|sont|comment|ecris|envoie|vers|donnees|fichiers")


@dataclass(frozen=True)
class RiskAssessment:
    level: Risk
    score: float
    categories: tuple[Category, ...] = ()
    signals: tuple[str, ...] = field(default=())
    language: Literal["en", "fr"] = "en"


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("’", "'"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _hits(pattern: re.Pattern[str], text: str) -> list[str]:
    return [m.group(0) for m in pattern.finditer(text)]


def score_risk(text: str) -> RiskAssessment:
    """Score one request. Levels: low < 1 <= medium < 2 <= high < 3 <= critical."""
    folded = _fold(text)
    categories: dict[Category, float] = {"malware": 0.0, "exfiltration": 0.0, "credential_theft": 0.0}
    signals: list[str] = []
    make, malware, stealth = _hits(_MAKE, folded), _hits(_MALWARE, folded), _hits(_STEALTH, folded)
    steal, creds, cred_tools = _hits(_STEAL, folded), _hits(_CREDENTIALS, folded), _hits(_CRED_TOOLS, folded)
    send, external = _hits(_SEND, folded), _hits(_EXTERNAL, folded)
    third_party, bulk = _hits(_THIRD_PARTY_DATA, folded), _hits(_BULK, folded)
    if malware:
        categories["malware"] += 1.5 + (2.0 if make else 0.0) + (1.5 if stealth else 0.0)
        signals += malware[:2] + make[:1]
    if creds and steal:
        categories["credential_theft"] += 3.0
        signals += steal[:1] + creds[:1]
    elif creds and stealth:
        categories["credential_theft"] += 2.0
    if cred_tools:
        categories["credential_theft"] += 3.0 if (make or steal) else 2.0
        signals += cred_tools[:1]
    if send and (third_party or bulk):
        # someone else's data leaving for an outside place is exfiltration; one's own files, only suspicious
        base = 1.5 if third_party else 1.0
        categories["exfiltration"] += base + (1.5 if external else 0.0) + (1.0 if stealth else 0.0)
        signals += send[:1] + (third_party or bulk)[:1] + external[:1]
    elif send and external and (stealth or creds):
        categories["exfiltration"] += 3.0
        signals += send[:1] + external[:1]
    if stealth:
        signals += stealth[:1]
    defensive = bool(_hits(_DEFENSIVE, folded))
    if defensive and not stealth:
        for name in categories:
            categories[name] -= 2.0
    score = max(categories.values())
    level: Risk = "critical" if score >= 3 else "high" if score >= 2 else "medium" if score >= 1 else "low"
    flagged = tuple(name for name, value in categories.items() if value >= 1.0)
    language: Literal["en", "fr"] = "fr" if len(_hits(_FRENCH, folded)) >= 2 and not re.search(
        r"(?<![a-z])(?:the|and|my|to|of|with)(?![a-z])", folded) else "en"
    return RiskAssessment(level, round(score, 2), flagged, tuple(dict.fromkeys(signals)), language)


def max_risk(*levels: Risk | None) -> Risk | None:
    best: Risk | None = None
    for level in levels:
        if level is not None and (best is None or RISK_ORDER[level] > RISK_ORDER[best]):
            best = level
    return best
