"""What the router says itself, in the request's language: clarifying questions, refusals with a safe
alternative (critical risk), and the "no tool can do that here" answer for unsupported capabilities."""

from __future__ import annotations

from ._decision import Intent, Language

CLARIFY: dict[str, dict[Language, str]] = {
    "code": {
        "en": "Which code or file should I look at? Paste the code, the file name, or the full error message "
              "(traceback).",
        "fr": "Quel code ou quel fichier dois-je regarder ? Collez le code, le nom du fichier ou le message "
              "d'erreur complet (traceback).",
    },
    "mail": {
        "en": "Which e-mail do you mean, and who should receive it?",
        "fr": "De quel e-mail parlez-vous, et à qui dois-je l'envoyer ?",
    },
    "calendar": {
        "en": "Which event should I change, and to when?",
        "fr": "Quel événement dois-je modifier, et pour quand ?",
    },
    "file": {
        "en": "Which file or text should I work on? Give its name or paste it.",
        "fr": "Sur quel fichier ou quel texte dois-je travailler ? Donnez son nom ou collez-le.",
    },
    "other": {
        "en": "What would you like me to do? Tell me what it is about, and paste any text, file name or error "
              "involved.",
        "fr": "Que voulez-vous que je fasse ? Dites-moi de quoi il s'agit, et collez le texte, le nom du fichier "
              "ou l'erreur concernés.",
    },
}

REFUSAL: dict[str, dict[Language, str]] = {
    "malware": {
        "en": "I can't help build malware or break into systems you don't own. I can explain how such attacks "
              "work at a high level and how to detect and defend against them (endpoint protection, least "
              "privilege, patching, offline backups), or help with an authorised test of your own systems.",
        "fr": "Je ne peux pas aider à créer un logiciel malveillant ni à s'introduire dans des systèmes qui ne "
              "vous appartiennent pas. Je peux expliquer le principe de ces attaques et comment les détecter et "
              "s'en protéger (protection des postes, moindre privilège, mises à jour, sauvegardes hors ligne), ou "
              "aider à un test autorisé de vos propres systèmes.",
    },
    "credential_theft": {
        "en": "I can't help obtain other people's passwords, cookies or credentials, or write phishing lures. I "
              "can help you protect accounts (MFA, a password manager, phishing-awareness training run with "
              "consent) or learn to recognise phishing.",
        "fr": "Je ne peux pas aider à obtenir les mots de passe, cookies ou identifiants d'autres personnes, ni à "
              "rédiger un hameçonnage. Je peux vous aider à protéger des comptes (double authentification, "
              "gestionnaire de mots de passe, sensibilisation à l'hameçonnage avec consentement) ou à le reconnaître.",
    },
    "exfiltration": {
        "en": "I can't help access or copy data without its owner's authorisation, or hide it from them. I can "
              "help you request access properly, set up data-loss prevention, or audit who accessed what.",
        "fr": "Je ne peux pas aider à accéder à des données ou à les copier sans l'autorisation de leur "
              "propriétaire, ni à le lui cacher. Je peux vous aider à demander un accès en règle, à mettre en place "
              "une prévention des fuites de données ou à auditer les accès.",
    },
    "other": {
        "en": "I can't help with that request: it could cause serious harm. I can help with a safe, defensive "
              "version of it.",
        "fr": "Je ne peux pas donner suite à cette demande : elle pourrait causer un tort grave. Je peux aider "
              "avec une version sûre et défensive.",
    },
}

UNSUPPORTED: dict[str, dict[Language, str]] = {
    "image": {
        "en": "I can't create or edit images here: no image tool is configured. I can describe the image in "
              "detail or write a prompt you can give to an image generator.",
        "fr": "Je ne peux pas créer ni modifier d'images ici : aucun outil d'image n'est configuré. Je peux "
              "décrire l'image en détail ou écrire une consigne à donner à un générateur d'images.",
    },
    "audio_video": {
        "en": "I can't produce audio or video here. I can write the script, the lyrics or a storyboard for it.",
        "fr": "Je ne peux pas produire de son ni de vidéo ici. Je peux en écrire le script, les paroles ou le "
              "découpage.",
    },
    "phone": {
        "en": "I can't make calls or send text messages here. I can draft the message for you to send.",
        "fr": "Je ne peux pas passer d'appel ni envoyer de SMS ici. Je peux rédiger le message que vous enverrez.",
    },
    "purchase": {
        "en": "I can't order, buy or book things here. I can compare options or prepare what you need to place "
              "the order yourself.",
        "fr": "Je ne peux pas commander, acheter ni réserver ici. Je peux comparer les options ou préparer ce "
              "qu'il faut pour passer la commande vous-même.",
    },
    "payment": {
        "en": "I can't move money. I can tell you what your bank needs so that you can make the transfer yourself.",
        "fr": "Je ne peux pas effectuer de paiement. Je peux vous dire ce dont votre banque a besoin pour que "
              "vous fassiez le virement vous-même.",
    },
    "smart_home": {
        "en": "I can't control devices here: no home-automation tool is configured.",
        "fr": "Je ne peux pas piloter d'appareils ici : aucun outil domotique n'est configuré.",
    },
    "other": {
        "en": "I can't do that here: no tool for it is configured. I can help with a text-based version of it.",
        "fr": "Je ne peux pas faire cela ici : aucun outil n'est configuré pour cela. Je peux aider sous forme de "
              "texte.",
    },
}

CAPABILITY_TOOL_WORDS: dict[str, tuple[str, ...]] = {
    "image": ("image", "picture", "photo", "draw", "paint"),
    "audio_video": ("audio", "video", "speech", "tts", "music", "voice"),
    "phone": ("sms", "call", "phone", "text_message"),
    "purchase": ("order", "buy", "shop", "purchase"),
    "payment": ("pay", "transfer", "bank"),
    "smart_home": ("light", "home", "thermostat", "heating", "device"),
}


def clarify(intent: Intent, language: Language) -> str:
    return CLARIFY.get(intent, CLARIFY["other"])[language]


def refusal(category: str | None, language: Language) -> str:
    return REFUSAL.get(category or "other", REFUSAL["other"])[language]


def unsupported(capability: str | None, language: Language) -> str:
    return UNSUPPORTED.get(capability or "other", UNSUPPORTED["other"])[language]
