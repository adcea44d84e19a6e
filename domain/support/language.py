"""A ticket's language when its source does not say: counted common words (English, Spanish, French,
German, Portuguese, Italian). Offline and crude on purpose: a short or mixed text, or a tie, gives
no answer and the ticket takes ``[support] default_language``."""
from __future__ import annotations

import re

STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset("the and is my i you it to of for not was have this with order where please".split()),
    "es": frozenset("el la los las de que y es mi por para pedido no con una un está dónde gracias hola".split()),
    "fr": frozenset("le la les de et est mon ma je vous pas pour une un commande avec où merci bonjour".split()),
    "de": frozenset("der die das und ist mein meine ich sie nicht für eine ein bestellung mit wo danke hallo".split()),
    "pt": frozenset("o a os as de e é meu minha eu você não para uma um pedido com onde obrigado olá".split()),
    "it": frozenset("il lo la gli di e è mio mia io non per una un ordine con dove grazie ciao".split()),
}
WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
MIN_HITS = 2


def guess(text: str) -> str | None:
    """The language whose common words occur most (at least ``MIN_HITS``, and strictly more than any other)."""
    words = [w.lower() for w in WORD.findall(text)]
    counts = sorted(((sum(w in vocabulary for w in words), code) for code, vocabulary in STOPWORDS.items()),
                    reverse=True)
    (best, code), (second, _) = counts[0], counts[1]
    return code if best >= MIN_HITS and best > second else None
