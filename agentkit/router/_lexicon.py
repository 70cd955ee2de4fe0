"""The rules tier's vocabulary: weighted lexical cues for intents, actions, risk and output format.

Each `Cue` is a regular expression over accent-folded, lower-cased text (see `_text.fold`) unless `raw` is set,
in which case it sees the original text (error class names, code syntax). Weights are evidence, not
probabilities: strong, specific signals (a traceback, a file name, "search the web") weigh 3-4; generic words
that other intents share weigh 1-2. English and French forms sit side by side in the same pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .._tools import Effect
from ._decision import Intent, OutputFormat


@dataclass(frozen=True)
class Cue:
    name: str
    weight: float
    pattern: re.Pattern[str]
    raw: bool = False


def cue(name: str, weight: float, regex: str, *, raw: bool = False) -> Cue:
    return Cue(name, weight, re.compile(regex), raw)


_WEEKDAYS = r"(monday|tuesday|wednesday|thursday|friday|saturday|sunday|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)s?"
_MONTHS = (
    r"(january|february|march|april|may|june|july|august|september|october|november|december|janvier|fevrier|mars|"
    r"avril|mai|juin|juillet|aout|septembre|octobre|novembre|decembre)"
)
CODE_EXTENSIONS = r"py|pyi|js|mjs|ts|tsx|jsx|java|kt|rs|go|rb|php|c|cc|cpp|h|hpp|cs|swift|scala|sh|bash|sql|vue|ipynb"
DOC_EXTENSIONS = (
    r"pdf|docx?|xlsx?|csv|tsv|txt|md|markdown|pptx?|odt|ods|odp|tex|log|json|ya?ml|html?|xml|bak|tmp|rtf|epub|"
    r"ini|toml|cfg|conf|zip|tar|gz"
)
IMAGE_EXTENSIONS = r"png|jpe?g|gif|webp|heic|svg|bmp|tiff?"

INTENT_CUES: dict[Intent, tuple[Cue, ...]] = {
    "code": (
        cue("error_class", 4, r"\b[A-Z][A-Za-z]*(Error|Exception)\b|Traceback \(most recent call last\)|\bERESOLVE\b", raw=True),
        cue("crash", 3, r"\bsegfault|segmentation fault|core dumped|stack ?trace|non-fast-forward|\bplante avec\b"),
        cue("code_file", 3, rf"\b[\w./~-]*[a-z0-9_](?<!node)(?<!next)\.({CODE_EXTENSIONS})\b"),
        cue("code_syntax", 2.5,
            r"`[^`\n]+`|\bdef \w+\(|=>|\bimport \w|\bSELECT\b.+\bFROM\b|\{[^}\n]*;[^}\n]*\}|\w\([^()\n]*\)\s*[{;:]"
            r"|\w\.\w+\(|</?[a-zA-Z]\w*[^>\n]*>|\bpublic (int|void|class|static)\b|\$[A-Za-z_]\w*|\bNone\b", raw=True),
        cue("language", 2,
            r"\b(python|django|flask|fastapi|react|javascript|typescript|java|kotlin|rust|golang|c\+\+|sql|regexp?|"
            r"git|docker(file)?|kubernetes|npm|pip|pytest|mypy|pandas|numpy|bash|uvicorn|orm|api|css|angular|"
            r"node(\.?js)?|makefile|virtualenv|venv|ci)\b"),
        cue("programming", 1.5,
            r"\b(function|fonction|method|methode|class|classe|variable|loop|boucle|bug|bugs|compile\w*|scripts?|"
            r"code|query|requete|unit tests?|tests? unitaires|test suite|suite de tests|tests|refactor\w*|debug\w*|"
            r"debogu\w*|migration|endpoint|dataclass|decorat\w+|closure|hooks?|dependenc\w+|interface|"
            r"algorithm\w*|complexit\w+|big-o|pipeline|repo|commit|branch\w*|branches|merge|rebase|pull request|"
            r"linked list|liste chainee|binary search|composant|component|type hints|typage|pagination|"
            r"exception|framework|librar\w+|module|deploy\w*|keystroke|regex|implement\w*|coroutines?|async\w*|"
            r"race condition|mutex\w*|threads?|deadlock|concurrency|pointers?|memory leak|garbage collector|"
            r"recursion|recursi\w+|compiler|inner join|left join|joins?|primary key|foreign keys?|index(es)?|"
            r"design pattern|pattern singleton|singleton|div|flexbox|selector|dom|imports?|dead code|code mort|"
            r"duplicated logic|workflow|github actions|config\.\w+)\b"),
        cue("failure", 1.5,
            r"\berror\[\w+\]|\berror:|\b(fails?|failing|failed|echoue\w*|ne compile pas|doesn't compile|"
            r"compilation|times? out|timeout)\b"),
        cue("malware", 2, r"\b(keylogger|ransomware|malware|exploit|trojan|botnet|rancongiciel)\b"),
        cue("repair_verb", 1, r"\b(fix|corrige|optimi[sz]e|patch|clean up|nettoie)\b"),
        cue("code_request", 2,
            r"\b(write|ecris|generate|genere|implement\w*|create|cree|code)\b.{0,30}\b(script|function|fonction|"
            r"class|classe|program|programme|regex|query|requete|tests?|unit tests?|tests unitaires|api|endpoint|"
            r"method|methode|dockerfile|makefile)s?\b"),
    ),
    "file": (
        cue("doc_file", 3, rf"(\b[\w./~-]*[a-z0-9_]|(?<![\w.]))\.({DOC_EXTENSIONS})\b"),
        cue("attached", 3, r"\b(attached|ci-joint\w*|joint|jointe|enclosed)\b"),
        cue("path", 2, r"(~/|\./|\b(?!(eur|usd|gbp|chf|jpy|btc|km|api)/)[a-z_][\w-]{2,}/)"),
        cue("file_noun", 2,
            r"\b(files?|fichiers?|folders?|dossiers?|directory|directories|repertoires?|documents?|tableur|"
            r"spreadsheet|slides?|pdf|csv|excel|readme|journal|downloads|desktop|bureau)\b"),
        cue("document_kind", 1.5,
            r"\b(notes|report|rapport|contract|contrat|minutes|compte-rendu|compte rendu|devis|these|thesis|"
            r"chapter|chapitre|cv|reglement|receipts|lease)\b"),
        cue("file_search", 2,
            r"\b(find|trouve|cherche|search|list|liste|show|montre)\b.{0,25}\b(files?|fichiers?|documents?|pdfs?)\b"),
        cue("file_verb", 1, r"\b(open|ouvre|read|lis|save|enregistre|rename|renomme|extract|extrai\w*|go through|look at)\b"),
    ),
    "web": (
        cue("search_online", 4,
            r"\b(search|look|check)( \w+)? (the )?(web|internet|online)\b|\bgoogle\b|\bonline\b|"
            r"\bsur (internet|le web|google)\b|\ben ligne\b|\bfais une recherche\b|\brecherche (web|internet)\b|"
            r"\b(on|sur) reddit\b|\bwikipedia\b|\bofficial\b.{0,30}\b(documentation|site|page|link)\b"),
        cue("who_won", 3,
            r"\b(who won|qui a gagne|winner|vainqueur|score of|scores|results of|resultats|classement|standings|"
            r"ranking|elections?)\b"),
        cue("news", 2,
            r"\b(news|nouvelles|actualite|actu|nouveautes|what's new|quoi de neuf|announcements?|annonces|latest|"
            r"dernier|derniere|dernieres|newest|release[sd]?|release date|new version|nouvelle version|version|"
            r"look up)\b"),
        cue("version", 1.5, r"\b(version|release[sd]?|lts|stable)\b"),
        cue("now", 1.5,
            r"\b(current|currently|right now|at the moment|these days|nowadays|now|today|tonight|this (week|weekend|"
            r"year)|actuel|actuelle|actuellement|en ce moment|maintenant|aujourd'hui|ce soir|cette annee|"
            r"cette semaine|ces jours-ci|a-t-il change|next week)\b"),
        cue("changing_fact", 2,
            r"\b(price|prices|prix|cost|costs|coute|cours|stock|share price|action|exchange rate|taux|weather|meteo|"
            r"forecast|quel temps|temps fait-il|traffic|bouchons|trafic|strikes?|greves?|closed|opening hours|"
            r"horaires|president|prime minister|premier ministre|ceo|pdg|minister|law|loi|regulation|"
            r"tax brackets|smic|inflation|population|vaccin|cve|reviews|avis|people saying|showing|cinemas?|"
            r"movies|rates|metro|motorway|autoroute|peripherique|launch|m²|m2)\b"),
        cue("who_is", 1.5, r"\b(who is the|qui est le|qui est la)\b"),
    ),
    "calculation": (
        cue("arithmetic", 3,
            r"\d\s*[+*/×÷^]\s*\(?\s*\d|\d\s+-\s+\d|\d\s*[x×]\s*\d|\(\s*\d[^)]*[-+*/×]\s*\d[^)]*\)|=\s*\?\s*$|"
            r"\d\s*\^\s*\d", raw=True),
        cue("percent", 2.5, r"\d\s*%|\bpercent\w*|\bpourcentage\b|\bpour ?cent\b"),
        cue("convert", 2.5, r"\b(convert\w*|conversion)\b"),
        cue("unit", 1.5,
            r"\d+(?:[.,]\d+)?\s*(km/h|m/s|km|kms|kilometers?|miles?|kg|g|lbs?|pounds|oz|onces?|ounces|l|liters?|"
            r"litres?|gallons?|cm|mm|m|m²|m2|inch(es)?|pouces?|°\s?[fc]|degrees|degres|tb|gb|kcal|calories|minutes|"
            r"seconds|secondes|hours|heures|days|jours|weeks|semaines)\b"),
        cue("currency_amount", 1.5,
            r"\d[\d,.\s]*\s*(dollars?|euros?|yens?|francs?|pounds|usd|eur|chf|€|\$)|(\$|€)\s?\d"),
        cue("math_word", 2.5,
            r"\b(calculat\w*|calcul\w*|compute|total|sum of|somme|average|moyenne|mean of|square root|racine|"
            r"factori\w+|puissance|to the power|area of|surface|perimeter|perimetre|volume of|mortgage|loan|pret|"
            r"mensualite|monthly payment|interest|interets?|compound\w*|tva|vat|tip|pourboire|discount|remise|"
            r"solde|per hour|par heure|percentage|ratio|how much fuel|how much for|split)\b|"
            r"\bhow many \w+ (are there in|is|in)\b|\bhow many (seconds|minutes|hours|days|liters|litres)\b|"
            r"\bcombien (font|fait|de jours|d'heures|de litres|de temps|de calories|valent)\b|"
            r"\bhow much is \d|\bwhat is \d|\bwhat's \d|\bcombien\b.{0,30}\bcoute-t-il|\bil coute combien\b"),
    ),
    "mail": (
        cue("mail_noun", 3,
            r"\b(e-?mails?|mails?|courriels?|inbox|boite de reception|boite mail|messagerie|mailbox|spam|unread|"
            r"non lus?|newsletters?|gmail|outlook)\b"),
        cue("email_address", 3, r"[\w.+-]+@[\w-]+\.[\w.]+"),
        cue("email_addresses_data", -2.5, r"\badresses? (e-?)?mail|\be-?mail addresses\b"),
        cue("mail_verb", 2,
            r"\b(reply|replies|respond|reponds?|repondre|forward|transfere\w*|faire suivre|draft|brouillon|redige|"
            r"relance\w*|attachments?|pieces? jointes?)\b|^email\b|\bemail (the|him|her|them|everyone)\b"),
        cue("send", 1.5, r"\b(send|envoie\w*|envoyer)\b"),
        cue("contacts", 2, r"\b(contacts|liste de diffusion|mailing list)\b"),
        cue("message", 1.5, r"\b(messages?|wrote me|m'a ecrit)\b"),
    ),
    "calendar": (
        cue("calendar_noun", 2.5,
            r"\b(calendar|calendrier|agenda|meetings?|reunions?|rendez-vous|rdv|appointments?|events?|"
            r"evenements?|one-on-one|standup|stand-up|sync|point hebdo|kickoff|kick-off|demo|conference|workshop|"
            r"atelier|dejeuner|lunch|call with|appel avec|slot|creneau|reminder|rappel|focus time|my week|ma semaine|"
            r"my day|ma journee|my schedule|mon planning|emploi du temps)\b"),
        cue("schedule_verb", 2,
            r"^programme\b|\b(schedule|reschedule|planifie\w*|book (a|an|the)|block|set (a|an)|push (my|the)|"
            r"postpone|bump|cale|repousse|reporte|avance|bloque\w*|decale|deplace|move my|invite\w*|"
            r"organi[sz]e|set up|mets|plan a|plan an|put a)\b"),
        cue("day_plan", 2, rf"\b(my|mon|ma) {_WEEKDAYS}\b|\bprogramme (de|du)\b|\bdoes my \w+ look like\b"),
        cue("availability", 2,
            r"\b(free on|free for|am i free|suis libre|libre|disponibles?|available|availability|dispo|busy|have time|"
            r"occupe|conflict|conflit|planned|prevu)\b"),
        cue("weekday", 1, rf"\b{_WEEKDAYS}\b"),
        cue("when", 1,
            rf"\b(tomorrow|demain|next week|semaine prochaine|week-end|weekend|morning|matin|afternoon|apres-midi|"
            rf"noon|midi|every other|tous les|every)\b|\b\d{{1,2}}\s*(am|pm)\b|\b\d{{1,2}}\s*h\s*\d{{0,2}}\b|"
            rf"\b\d{{1,2}}:\d\d\b|\bon the \d+(st|nd|rd|th)\b|\b\d{{1,2}}(er)? {_MONTHS}\b|\b{_MONTHS} \d{{1,2}}"),
    ),
    "chat": (
        cue("greeting", 3,
            r"^\W*(hi|hello|hey|good (morning|evening|night|afternoon)|bonjour|bonsoir|salut|coucou|"
            r"bonne (nuit|journee|soiree)|merci|thanks|thank you|thx)\b"),
        cue("small_talk", 2, r"\b(how are you|ca va|comment vas-tu|that's perfect|c'est (tres )?clair)\b"),
        cue("explain", 1.5,
            r"\b(explain|explique\w*|what is|what's the difference|difference between|difference entre|c'est quoi|"
            r"qu'est-ce que|why|pourquoi|who wrote|qui a ecrit|meaning|que veut dire|signifie|causes? of|"
            r"how does|comment fonctionne|capital|capitale|should i|what should|dois-je|je peux prendre|"
            r"comment s'appelle|is it safe|peut-il|peut-elle|how should i)\b"),
        cue("advice_topic", 1.5,
            r"\b(ibuprofen|paracetamol|doliprane|medicine|medicaments?|fever|fievre|headache|migraine|landlord|"
            r"proprietaire|loyer|rent increase|employer|employeur|bail|lease|salary|salaire|negotiation)\b"),
        cue("writing", 2,
            r"\b(story|histoire|poem|poeme|joke|blague|translate|traduis|traduire|rewrite|reformule|proofread|"
            r"orthographe|spelling|grammar|ideas?|idees|advice|conseils?|suggest|propose-moi|recommend|name for|"
            r"toast|discours|speech|menu|recipe|recette|plot|intrigue|help me (write|prepare)|aide-moi a|"
            r"politely|poliment|comment dire|idiom|expression)\b"),
    ),
    "unsupported": (
        cue("image_generation", 4,
            r"\b(generate|create|make|draw|paint|design|render|produce|genere|cree|fais|fais-moi|dessine|peins|"
            r"transforme)\b.{0,50}\b(images?|pictures?|photos?|illustrations?|logo|poster|affiche|drawing|dessins?|"
            r"portrait|avatar|meme|gif|wallpaper|fond d'ecran|3d|painting|image realiste)\b"),
        cue("drawing", 3, r"\b(draw|dessine\w*|paint|peins|sketch)\b"),
        cue("photo_editing", 4,
            r"\b(edit|retouch\w*|retouche|upscale|coloris\w*|coloriz\w*|detoure)\b|\bremove the background\b|"
            r"\benleve le fond\b|\blisser\b|\bmodifie cette (image|photo)\b|\b(change|remove)\b.{0,40}\b(in|from) "
            r"this (photo|picture|image)\b"),
        cue("image_noun", 2,
            rf"\b(this photo|cette photo|this picture|cette image|ce croquis|this sketch|selfie|photo de profil)\b|"
            rf"\.({IMAGE_EXTENSIONS})\b"),
        cue("media", 3,
            r"\b(videos?|montage|music|musique|melody|melodie|songs?|chansons?|sing|chante\w*|berceuse|lullaby|mp3|"
            r"podcast|voice|voix|out loud|a voix haute|aloud|narrat\w*)\b"),
        cue("phone", 3,
            r"\bcall (my|the|him|her|them|mom|dad)\b|(?<!')\bappelle\b|\bphone (the|my)\b|\bphone\b|\btext (my|him|her)\b|\bsms\b|"
            r"\btexto\b|\bwhatsapp\b"),
        cue("purchase", 3,
            r"\b(order (a|an|me|some)|buy|purchase|commande-moi|commander|achete\w*|acheter|reserve-moi|book me)\b|"
            r"\b(uber|taxi|pizzas?|sushis?|tickets?|flights?)\b|^commande\b"),
        cue("payment", 4, r"\b(transfer|wire|send|envoie|vire)\b.{0,20}\d+\s*(€|euros?|dollars?|\$)|\bvirement\b|"
            r"\b(pay|paie|payer|regle)\b.{0,40}(\b(facture|bill|invoice)|\d+\s*(€|euros?|\$))|\bpay \d"),
        cue("smart_home", 3,
            r"\bturn (on|off)\b|\bswitch (on|off)\b|\blights\b|\blumieres?\b|\ballume\b|\beteins\b|\bchauffage\b|"
            r"\bthermostat\b|\bvolets\b"),
    ),
}

CRITICAL_CUES: dict[str, tuple[Cue, ...]] = {
    "malware": (
        cue("malware", 1,
            r"\b(keylogger|ransomware|rancongiciel|malware|logiciel malveillant|trojan|cheval de troie|botnet|"
            r"spyware|stalkerware|rootkit|ddos)\b|\b(write|create|code|build|make|ecris|cree|code-moi|fais)\b.{0,30}"
            r"\b(virus|ver informatique|worm)\b"),
        cue("intrusion", 1,
            r"\bexploit\b.{0,60}\b(competitor|concurrent|someone|their|not mine|dump)\b|\bdump their\b|"
            r"\b(hack|pirate[rz]?|break into|crack)\b.{0,40}\b(account|compte|wifi|password|mot de passe|site|server|"
            r"serveur)\b|\b(bypass|contourne\w*)\b.{0,30}\b(2fa|authenti\w+|mfa|login)\b"),
    ),
    "credential_theft": (
        cue("phishing", 1,
            r"\b(phishing|hameconnage)\b|\bpretending to be\b.{0,40}\b(password|bank|paypal)\b|"
            r"\bfaux (mail|e-?mail|site)\b.{0,60}\b(identifiants|mots? de passe|banque|coordonnees)\b|"
            r"\b(imite\w*|imitating|impersonat\w*|pretend\w*|se faisant passer|se fait passer)\b.{0,80}\b(passwords?|"
            r"card numbers?|carte bancaire|numeros? de carte|identifiants|mots? de passe|coordonnees bancaires|"
            r"login)\b|"
            r"\b(steal|vole\w*|voler|recup\w*|harvest|grab)\b.{0,40}\b(passwords?|credentials|cookies|identifiants|"
            r"mots? de passe|session)\b|\benter their password\b"),
    ),
    "exfiltration": (
        cue("exfiltration", 1,
            r"\bexfiltr\w*|\bwithout (him|her|them|anyone) (noticing|knowing)\b|\bsans (qu'il|qu'elle|qu'ils) "
            r"(le sache|le voie|s'en rende)|\bsans laisser de traces\b|\b(boite mail|mailbox|emails?|compte) de mon ex\b|"
            r"\bmy ex'?s\b.{0,20}\b(email|mailbox|account|phone)\b|\bmy boss'?s emails\b|"
            r"\b(surveiller|espionner|spy on)\b.{0,40}\b(tape|copine|femme|mari|girlfriend|wife|husband|partner|"
            r"colleague|collegue)\b"),
    ),
}

DEFENSIVE = re.compile(
    r"\b(protect|proteger|defend|secure|securiser|harden|prevent|prevenir|detect|detecter|remove|supprimer|"
    r"se proteger|how does .* work|comment fonctionne|recognize|reconnaitre|avoid|eviter)\b"
)
OFFENSIVE_MAKING = re.compile(
    r"\b(write|create|code|build|make|give me|generate|ecris|cree|code-moi|fais|donne-moi|genere|steal|vole)\b"
)

ACTION_CUES: dict[Effect, tuple[Cue, ...]] = {
    "destructive": (
        cue("delete", 1,
            r"\b(delete|wipe|erase|purge|truncate|supprim(e|er|ez)|efface\w*|detrui\w+|rm -rf|force push)\b|"
            r"\bdrop(s|ping)?\b.{0,30}\b(table|database|schema|column|index)\b|"
            r"\bempty (my|the)\b|\bclear (my|the)\b|\bvide (la|le|mon|ma|mes|les)\b|"
            r"\b(cancel|annule\w*) (all|my|the|every|tous|toutes|mes|la|le|l')\b|"
            r"\bremove (all|every|each|the|my)\b.{0,30}\b(files?|folders?|director\w*|e-?mails?|messages?|events?|"
            r"meetings?|branch\w*|rows|records|entries)\b"),
    ),
    "send": (
        cue("send", 1,
            r"\b(send|envoie\w*|envoyer|reply|respond|reponds?|repondre|forward|transfere\w*|faire suivre|invite\w*)\b|"
            r"^email\b|\bemail (the|him|her|them|everyone)\b"),
    ),
    "write": (
        cue("write", 1,
            r"^programme\b|\b(save|enregistre\w*|create|cree|crees|add|ajoute|append|insert|rename|renomme|move|"
            r"deplace|decale|schedule|reschedule|planifie|book|bloque\w*|block|organi[sz]e|set up|set a|put|mets|"
            r"push my|push the|postpone|cale|repousse|reporte|clean up|nettoie|fix|corrige|patch|"
            r"refactor\w*|update|modifie|modify|edit|replace|remplace|draft|brouillon|redige|densif\w*|migre|"
            r"migrate|apply|applique|optimi[sz]e|mark|debogue|debug|plan a|plan an)\b|"
            r"\bwrite\b.{0,40}\b(into|to) [\w./-]+\.\w+|\b(write|ecris)\b.{0,10}\b(an?|un|une) (e-?mail|mail|reply)\b|"
            r"\bprepare un brouillon\b"),
    ),
}

WITH_PEOPLE = re.compile(
    r"\b(meeting|reunion|call|appel|lunch|dejeuner|sync|kickoff|rendez-vous|demo)\b.{0,20}\b(with|avec)\b"
)
"""Creating a meeting with someone invites them: a send, once something is being created or changed."""

MASS_ACTION = re.compile(
    r"\b(everyone|everybody|all (my )?contacts|tout le monde|tous mes contacts|toute ma liste|liste de contacts|"
    r"mailing list|liste de diffusion|whole company|toute l'entreprise)\b"
)
RUN_CODE = re.compile(
    r"\b(run|lance|execute)\s+(the\s+|les\s+|le\s+|la\s+)?(tests?|test suite|tests unitaires|scripts?|suite de tests)\b"
)
MEDICAL = re.compile(
    r"\b(ibuprofen|paracetamol|doliprane|is it safe to take|fever|fievre|headache|migraine|mal (au|a la|aux)|pain|douleurs?|symptoms?|symptomes?|medicine|"
    r"medicaments?|drugs?|dose|dosage|what should i take|je peux prendre|vaccins?|side effects|effets secondaires|"
    r"diagnos\w*|treatment|traitement|pregnan\w*|enceinte|malade)\b"
)
LEGAL = re.compile(
    r"\b(law|loi|legal|juridique|lawsuit|tribunal|landlord|proprietaire|deposit|caution|employer|employeur|"
    r"conges|tax|taxes|impots?|droit du travail|licenciement|rights|visas?|immigration|permis|regles|"
    r"rules for|regulations?|reglementation|loyer|bail)\b"
)
SECURITY_TOPIC = re.compile(r"\b(injection|csrf|xss|ddos|phishing|hameconnage|malware|ransomware)\b")
PURCHASE = re.compile(
    r"\b(order (a|an|me|some)|buy|purchase|commande-moi|achete\w*|acheter|reserve-moi|book me)\b|^commande\b"
)
PAYMENT = re.compile(
    r"\b(transfer|wire|send|envoie|vire)\b.{0,20}\d+\s*(€|euros?|dollars?|\$)|\bvirement\b|"
    r"\b(pay|paie|payer|regle)\b.{0,40}(\b(facture|bill|invoice)|\d+\s*(€|euros?|\$))|\bpay \d"
)

FORMAT_CUES: tuple[tuple[OutputFormat, re.Pattern[str]], ...] = (
    ("json", re.compile(r"\bjson\b")),
    ("table", re.compile(r"\b(table|tableau|tabular|en colonnes)\b")),
    ("patch", re.compile(r"\b(patch|diff|before/after|avant/apres)\b")),
    ("list", re.compile(r"\b(bullet points?|bullets|list|liste|puces|steps|etapes|action items)\b")),
)

CREATIVE = re.compile(
    r"\b(poem|poeme|story|histoire|joke|blague|toast|slogan|brainstorm|ideas|idees|name for|nom pour|discours|"
    r"speech|lyrics|paroles|raconte)\b"
)

FRESH_STRONG = re.compile(
    r"\b(current|currently|right now|at the moment|these days|nowadays|latest|news|actuel|actuelle|actuellement|"
    r"en ce moment|maintenant|actualite|nouvelles|nouveautes|quoi de neuf|who won|qui a gagne|exchange rate|"
    r"taux du jour|forecast|stock|cours (de l'action|de bourse|du \w+|actuel)|share price|today's|ce soir|tonight|a-t-il change|this year|cette annee|"
    r"elections?|resultats|classement|strikes?|greves?|dernieres?)\b"
)
FRESH_WEAK = re.compile(
    r"\b(today|aujourd'hui|now|this week|cette semaine|this weekend|ce week-end|next week|price|prix|cost|coute|"
    r"weather|meteo|law|loi|president|ceo|prime minister|release[sd]?|version|horaires|opening hours|taux|"
    r"vaccin|new|nouveau|nouvelle)\b"
)
CURRENCY = re.compile(r"\b(dollars?|euros?|yens?|francs?|pounds|livres|bitcoins?|usd|eur|gbp|chf|jpy|btc)\b")
REFERENCE_LOOKUP = re.compile(r"\b(wikipedia|official documentation|documentation officielle|link to|lien vers)\b")
YEAR = re.compile(r"\b(19|20)\d\d\b")

CODE_CHANGE = re.compile(
    r"\b(fix|corrige|patch|refactor\w*|debug\w*|debogu\w*|optimi[sz]e|migre|migrate|clean up|nettoie|rename|"
    r"renomme|replace|remplace|update|modifie|modify|change|apply|applique|supprime|remove|delete)\b"
)
CODE_ADD = re.compile(r"\b(add|ajoute|append|insert)\b")
DESTRUCTIVE_DATA = re.compile(
    r"\b(tables?|database|base de donnees|bdd|branch\w*|files?|fichiers?|folders?|dossiers?|repo\w*|production|"
    r"prod|bucket|records|rows|lignes de la table|users|utilisateurs|backups?|sauvegardes)\b|rm -rf|force push|"
    r"\bdrop\b"
)
HOW_TO = re.compile(
    r"^(how (do|can|should) (i|we|you)|how to|what command|which command|comment (faire|on|puis-je|je)|"
    r"quelle commande|comment est-ce qu)\b"
)
