"""English caption tokenisation as the COCO caption evaluation does it, in pure Python.

The COCO toolkit (``pycocoevalcap``) runs Stanford CoreNLP 3.4.1's ``PTBTokenizer`` (Java) with
``-preserveLines -lowerCase`` and then drops the punctuation tokens
``'' ' `` ` -LRB- -RRB- -LCB- -RCB- . ? ! , : - -- ... ;``. :func:`ptb_tokenize` reproduces the
result of that pipeline without Java. Its rules were derived by running the Java tokenizer on probe
sentences, and the test suite checks token-for-token equality with it on real COCO and Flickr30k
captions whenever Java is available. What it reproduces:

* Penn Treebank splitting: clitics (``dog's`` -> ``dog 's``, ``don't`` -> ``do n't``,
  ``cannot`` -> ``can not``, ``gonna`` -> ``gon na``), punctuation split off words, hyphenated
  words, numbers (``3.5``, ``10,000``, ``5:30``), fractions and slashes (``1/2``, ``black/white``)
  and internal apostrophes (``o'clock``, ``ma'am``) kept whole;
* periods: kept on abbreviations (``mr.``, ``st.``, ``etc.``), single letters (``b.``), dotted
  acronyms (``u.s.``), numbered references before a digit (``no. 5``) and on any word followed by
  ``,`` ``;`` or ``:``; otherwise split off (and then dropped);
* normalisation: brackets become ``-lrb-`` ``-rrb-`` ``-lsb-`` ``-rsb-`` ``-lcb-`` ``-rcb-`` (the
  toolkit's filter lists them in upper case, so after lower-casing they are *kept*, as in every
  published COCO score), runs of ``?``/``!`` such as ``?!`` stay one (kept) token, ``£`` becomes
  ``#`` and ``€`` ``$``, ``½`` becomes ``1/2``, ``&amp;`` ``&``;
* lower-casing of every token.

Known differences (none occurs in the test corpora): emoticons, SGML/HTML tags, URLs and e-mail
addresses with unusual punctuation, and abbreviations outside the probed list.
"""

from __future__ import annotations

import re


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# punctuation tokens the COCO toolkit removes after tokenisation (upper-case brackets are never
# produced once tokens are lower-cased, so brackets survive, as they do in the toolkit)
_DROPPED = _word_set("'' ' `` ` -LRB- -RRB- -LCB- -RCB- . ? ! , : - -- ... ;")
# capitalised words after which a single letter's period ends the sentence (``Wii U. The``)
_SENTENCE_STARTS = _word_set(
    """a about after an as at but he her here however if in it last many now once one other our
    she since so some such that the their then there these they this we what when while yet you"""
)
# abbreviations that keep their period whatever follows (lower, Title and UPPER case)
_ABBREVIATIONS = _word_set(
    """mr mrs ms dr prof gen gov sen rep lt col sgt capt cmdr adm maj rev st mt ft jr sr inc ph.d
    corp co ltd bros plc vs etc cf al jan feb mar apr jun jul aug sep sept oct nov dec mon tue
    tues wed thu thurs fri ala ariz calif colo conn fla ga ind kan kans ky md mich minn mo mont
    neb nev okla tenn va vt wis wisc wyo ave blvd rd dept univ assn est pres supt esq hon messrs
    mme mlle bldg"""
)
# abbreviations that keep their period only when capitalised (``Ark.`` but not ``ark.``)
_CAPITALISED_ABBREVIATIONS = _word_set("ark del ill la mass miss ore pa tex wash")
# abbreviations that keep their period in lower and Title case only
_LOWER_OR_TITLE_ABBREVIATIONS = _word_set("mfg")
# abbreviations that keep their period before a number (``No. 5``, ``fig. 3``)
_NUMBER_ABBREVIATIONS = _word_set("no nos fig figs pp art op tel ext est sq col vs p ca")
# words split in two
_SPLIT_WORDS = {"cannot": 3, "gonna": 3, "gotta": 3, "wanna": 3, "gimme": 3, "lemme": 3}

# single characters the Java tokenizer rewrites (quotes, dashes and ellipses become tokens that
# are dropped afterwards; brackets become the -LRB- family, which is kept)
_SYMBOLS = {
    **{q: "'" for q in "\"'`“”‘’„‟‚‛«»"},
    **{d: "--" for d in "–—‒―"},
    "…": "...",
    **{"(": "-LRB-", ")": "-RRB-", "[": "-LSB-", "]": "-RSB-", "{": "-LCB-", "}": "-RCB-"},
    **{"¼": "1/4", "½": "1/2", "¾": "3/4", "⅓": "1/3", "⅔": "2/3"},
    **{"£": "#", "€": "$"},
}
_BANGS = re.compile(r"[?!]{2,}")  # ?! !! ??? stay one token, which the toolkit keeps
_SPACE = re.compile(r"\s+")
_AMPERSAND = re.compile("&amp;", re.IGNORECASE)

_CLITIC = re.compile(r"'(?:s|m|d|re|ve|ll)(?![^\W_])", re.IGNORECASE)
_LEADING_APOSTROPHE = re.compile(
    r"'n(?=\s)|'(?:em|cause|til|till)(?![^\W_])|'\d\ds(?!\w)|'\d\d(?![\w'\"])", re.IGNORECASE
)
_TIS = re.compile(r"'t(?=(?:is|was)(?![^\W_]))", re.IGNORECASE)
_N_APOSTROPHE_N = re.compile(r"'n'", re.IGNORECASE)
# a word with an internal apostrophe kept whole: o'clock, d'ye, l'hotel, O'Neil, ma'am, ne'er
_APOSTROPHE_WORD = re.compile(
    r"(?:[dlno]|[A-HJ-XZ])'[^\W\d_]{2,}|[^\W\d_]*[aeiouyAEIOUY]'[aeiouA-Z][^\W\d_]*|li'l"
)
_LETTER_APOSTROPHE = re.compile(r"[jyY]'(?=[^\W\d_])")
_TWO_QUOTES = re.compile(r"''|``")  # one quote token (so ''s is a quote and s)
_EMOTICON = re.compile(r"([:;]-?)([()])(?!\w)")
_PLAIN_WORD = re.compile(r"[^\W\d_]+(?=\s)")
_HANDLE = re.compile(r"[@#][^\W\d_]\w*")  # @user, #hashtag (but # 1)
_DECIMAL = re.compile(r"[.,:]\d+(?:[.,:]\d+)*")  # .5 :7 (a number without integer part)
_UPPER_AMPERSAND = re.compile(r"[A-Z]+&[A-Z]+")
_SIGNED_NUMBER = re.compile(r"[-+]\d+(?:[.,:]\d+)*")
_DOLLAR = re.compile(r"[A-Z]*\$")


def ptb_tokenize(caption: str, next_caption: str = "") -> list[str]:
    """Tokens of one caption, as the COCO toolkit's PTB tokenizer + punctuation filter gives them.

    The toolkit tokenises all captions as the lines of one file, and the Java tokenizer looks
    across the line end in one case: a caption ending in a single letter and a period (``Wii U.``)
    loses the period when the next line starts with a common sentence-initial word (``A``,
    ``The``, ...). Pass the caption tokenised after this one as ``next_caption`` to reproduce it;
    :func:`ptb_tokenize_lines` does so for a list.
    """
    lowered = (token.lower() for token in _scan(caption.replace("\n", " "), next_caption))
    return [token for token in lowered if token not in _DROPPED]


def ptb_tokenize_lines(captions: list[str]) -> list[list[str]]:
    """Tokens of each caption, tokenised in order as the lines of one file (like the toolkit)."""
    return [
        ptb_tokenize(caption, captions[k + 1] if k + 1 < len(captions) else "")
        for k, caption in enumerate(captions)
    ]


def _scan(caption: str, next_caption: str) -> list[str]:
    # the text after the caption is only looked at, never tokenised
    text = _AMPERSAND.sub("&", caption) + "\n" + next_caption.replace("\n", " ")
    tokens: list[str] = []
    i = 0
    end = len(_AMPERSAND.sub("&", caption))
    while i < end:
        space = _SPACE.match(text, i)
        if space:
            i = space.end()
            continue
        i = _next_token(text, i, tokens)
    return tokens


def _next_token(text: str, i: int, tokens: list[str]) -> int:
    """Append the token(s) starting at ``i``; return where scanning continues.

    Punctuation the toolkit drops afterwards (periods, commas, quotes, dashes, ...) is emitted as
    one character per token: how the Java tokenizer groups it does not change the result.
    """
    match = _PLAIN_WORD.match(text, i)  # fast path: most tokens are letters between spaces
    if match and match.group().isalpha() and match.group().lower() not in _SPLIT_WORDS:
        tokens.append(match.group())
        return match.end()
    for pattern in (
        _TWO_QUOTES,
        _N_APOSTROPHE_N,
        _LEADING_APOSTROPHE,
        _CLITIC,
        _HANDLE,
        _DECIMAL,
        _BANGS,
    ):
        match = pattern.match(text, i)
        if match:
            tokens.append(match.group())
            return match.end()
    match = _EMOTICON.match(text, i)
    if match:  # :) becomes :-RRB-, kept
        tokens.append(match.group(1) + _SYMBOLS[match.group(2)])
        return match.end()
    if _TIS.match(text, i):
        tokens.append("'t")
        return i + 2
    char = text[i]
    if _is_word_char(char):
        return _word(text, i, tokens)
    match = _SIGNED_NUMBER.match(text, i)
    if match and not _preceded_by_word(text, i):
        return _after_word(text, i, match.end(), tokens)
    tokens.append(_SYMBOLS.get(char, char))
    return i + 1


def _is_word_char(char: str) -> bool:
    """Letters, digits (not vulgar fractions such as ``½``), underscore and combining marks."""
    return char.isalpha() or char.isdigit() or char == "_" or _is_mark(char)


def _preceded_by_word(text: str, i: int) -> bool:
    return i > 0 and _is_word_char(text[i - 1])


def _word(text: str, i: int, tokens: list[str]) -> int:
    """A word, number or hyphenated/dotted/slashed compound starting at ``i``."""
    for pattern in (_UPPER_AMPERSAND, _DOLLAR):
        match = pattern.match(text, i)
        if match and match.end() > _compound_end(text, i):
            tokens.append(match.group())
            return match.end()
    match = _LETTER_APOSTROPHE.match(text, i)
    if match:
        tokens.append(match.group())
        return match.end()
    return _after_word(text, i, _compound_end(text, i), tokens)


def _compound_end(text: str, i: int) -> int:
    """End of the compound at ``i``: runs of word characters joined by ``-``, ``/``, ``@``;
    by ``.``, ``!`` or ``?`` before a letter (in a compound that starts with a letter); by
    ``.,:`` between digits (a number such as ``10,000`` or ``5:30``, which letters do not
    continue: ``5:30pm``); by an apostrophe inside a word such as ``o'clock``."""
    starts_with_letter = not text[i].isdigit()
    number = False
    j = i
    n = len(text)
    while True:
        while j < n and _is_word_char(text[j]):
            if number and text[j].isalpha():
                return j
            j += 1
        if j + 1 >= n or not _is_word_char(text[j + 1]):
            return j
        joiner, after = text[j], text[j + 1]
        if joiner in "-/@" or (joiner in ".!?" and starts_with_letter and after.isalpha()):
            j += 1
        elif joiner in ".,:" and text[j - 1].isdigit() and after.isdigit():
            number = True
            j += 1
        elif (
            joiner == "'"
            and not _CLITIC.match(text, j)  # a clitic ('s, 'LL, ...) is split off instead
            and (word := _APOSTROPHE_WORD.match(text, _word_start(text, i, j)))
        ):
            j = word.end()
        else:
            return j


def _word_start(text: str, first: int, j: int) -> int:
    """Start of the run of word characters that ends at ``j`` (not before ``first``)."""
    k = j
    while k > first and _is_word_char(text[k - 1]):
        k -= 1
    return k


def _is_mark(char: str) -> bool:
    """Combining marks belong to the letter before them."""
    return not char.isascii() and _MARK.match(char) is not None


_MARK = re.compile(r"[\u0300-\u036f\u0483-\u0489\u0591-\u05bd\u0610-\u061a\u064b-\u065f]")


def _after_word(text: str, i: int, j: int, tokens: list[str]) -> int:
    """Split the compound ``text[i:j]`` (clitics, ``n't``, split words), then decide whether the
    period that may follow it belongs to it."""
    word = text[i:j]
    lower = word.lower()
    if lower.endswith("n") and text[j : j + 2].lower() == "'t" and not _word_char_at(text, j + 2):
        if len(word) > 1:
            tokens.append(word[:-1])
        tokens.append(text[j - 1 : j + 2])
        return j + 2
    if lower in _SPLIT_WORDS:
        cut = _SPLIT_WORDS[lower]
        tokens.extend([word[:cut], word[cut:]])
        return j
    if j < len(text) and text[j] == "." and _keeps_period(text, word, j):
        tokens.append(word + ".")
        return j + 1
    tokens.append(word)
    return j


def _word_char_at(text: str, j: int) -> bool:
    return j < len(text) and _is_word_char(text[j])


_NEXT_WORD = re.compile(r"\s+([^\W\d_]+)(?=\s|$)")
_ACRONYM = re.compile(r"[^\W\d_](?:\.[^\W\d_])+")


def _keeps_period(text: str, word: str, j: int) -> bool:
    """Whether the period at ``text[j]`` stays on ``word`` (abbreviations and in-sentence use)."""
    after = text[j + 1 : j + 2]
    if len(word) == 1 and word.isalpha():
        following = _NEXT_WORD.match(text, j + 1)
        return not (
            following
            and following.group(1).lower() in _SENTENCE_STARTS
            and following.group(1) in (following.group(1).title(), following.group(1).upper())
        )
    if _ACRONYM.fullmatch(word):
        return True
    lower = word.lower()
    if word in (lower, lower.title(), lower.upper()) and lower in _ABBREVIATIONS:
        return True
    if word in (lower.title(), lower.upper()) and lower in _CAPITALISED_ABBREVIATIONS:
        return True
    if word in (lower, lower.title()) and lower in _LOWER_OR_TITLE_ABBREVIATIONS:
        return True
    if (
        lower in _NUMBER_ABBREVIATIONS
        and word in (lower, lower.title(), lower.upper())
        and re.match(r" \d", text[j + 1 : j + 3])
    ):
        return True
    return after in (",", ";", ":")
