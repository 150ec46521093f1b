"""`lenient` mode: reading stored outputs as public graders (math-verify, lighteval's extractive match)
do, for outputs that never promised a final-answer marker. The answer is the last boxed run (`\\boxed{1}
and \\boxed{-2}` reads `1, -2`), else what follows an "answer is" phrase in English or the row's language,
else the last math span, else the last bare number; choice letters likewise. Every scan is linear in the
text: delimiters are paired in one pass, and no pattern can backtrack over a long run."""

from __future__ import annotations

import re

from redstar_training.verify.answer_text import BOX_START, NUMBER_WORDS, answer_region, choice_letter, matching_braces

# Answer words per language (lighteval's translation literals, plus "final answer" forms).
ANSWER_WORDS = {
    "en": ["final answer", "answer"],
    "fr": ["réponse finale", "réponse"],
    "zh": ["最终答案", "答案"],
    "ar": ["الإجابة النهائية", "الإجابة", "إجابة"],
    "hi": ["अंतिम उत्तर", "उत्तर"],
    "de": ["endgültige antwort", "antwort"],
    "es": ["respuesta final", "respuesta"],
    "pt": ["resposta final", "resposta"],
    "it": ["risposta finale", "risposta"],
    "ru": ["окончательный ответ", "ответ"],
    "ja": ["最終的な答え", "答え"],
}
LANGUAGE_NAMES = {
    "english": "en", "french": "fr", "chinese": "zh", "arabic": "ar", "hindi": "hi", "german": "de",
    "spanish": "es", "portuguese": "pt", "italian": "it", "russian": "ru", "japanese": "ja",
}  # fmt: skip
LANGUAGES = tuple(ANSWER_WORDS)
_NOT_ANSWERS = frozenset("correct right wrong yes no clear obvious that this it as not the a an".split())
DECIMAL_COMMA_LANGUAGES = frozenset({"fr", "de", "es", "pt", "it", "ru"})  # "2,74" is 2.74 there
# What links an answer word to its answer ("answer is", "réponse :", "答案是"): "answer" alone is just a word.
_LINKING = r"(?:\s{0,3}(?:is|was|est|sera|是|为|為|هي|है|ist|es|é|è|:|：|=)){1,2}[\s:：]{0,3}"
_PHRASES = {
    lang: re.compile("(?i:" + "|".join(re.escape(w) for w in words) + ")" + _LINKING)
    for lang, words in ANSWER_WORDS.items()
}
_BARE_NAME = re.compile(r"\\?[A-Za-z]{1,12}(?:_\{?\w{1,4}\}?)?(?:\([A-Za-z, ]{1,12}\))?")
_FINAL_PHRASE = re.compile(r"(?i:final answer)")
_DELIMITERS = re.compile(r"\\?\$\$|\\?\$|\\\(|\\\)|\\\[|\\\]")
_CLOSER = {"$$": "$$", "$": "$", "\\(": "\\)", "\\[": "\\]"}
_NUMBER = re.compile(
    r"-?\\[dt]?frac\{[^{}]{1,30}\}\{[^{}]{1,30}\}"
    r"|(?<![A-Za-z\d.,])-?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d{1,3}(?: \d{3})+(?![\d,.])|\d+)(?:[.,]\d+)?(?:/\d+)?%?"
    r"|(?<![\d.])\.\d+"
)
_PROSE = re.compile(  # a word that is not a function name: the output is prose, not an expression
    r"(?<![\\A-Za-z])(?!(?:sin|cos|tan|cot|sec|csc|log|ln|exp|lim|max|min|gcd|lcm|mod|dx|dy|dt)(?![A-Za-z]))"
    r"[A-Za-z]{2,}|[^\x00-\x7f]{2,}"
)
_GROUPED = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_CONNECTOR = re.compile(  # what may stand between the boxes (or spans) of one answer: "and", commas, `y_2 =`
    r"""(?:\s|[,;.'"]|\$|\\[(),;:! \[\]]|\\quad|\\qquad|\\text\{[^{}]{0,20}\}|and|or|&|\\\\"""
    r"""|[A-Za-z](?:_\{?\w{1,4}\}?)?\s{0,2}=){0,12}"""
)
_LETTER = r"(?<![A-Za-z])\(?([A-J])\)?(?![A-Za-z'’])"
_LINE_LETTER = re.compile(r"^[ \t*#]{0,6}\(?([A-J])\)?(?![A-Za-z'’])(?![ \t]+[a-z])", re.M)
_ANY_LETTER = re.compile(_LETTER)


def language_code(language: str | None) -> str:
    """ "fr", "French" or "FRENCH" -> "fr"; None -> "en"; ValueError names the languages known."""
    if language is None or language == "":
        return "en"
    code = LANGUAGE_NAMES.get(str(language).lower(), str(language).lower())
    if code not in ANSWER_WORDS:
        raise ValueError(f"unknown language {language!r}; known: {', '.join(LANGUAGES)}")
    return code


def span_positions(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of each math span in order, paired in one pass; an inline `$` or `\\(`
    span ends at its line, and an escaped `\\$` is text."""
    spans: list[tuple[int, int, str]] = []
    opener: re.Match | None = None
    for m in _DELIMITERS.finditer(text):
        token = m.group()
        if token.startswith("\\$"):
            continue
        if opener is None:
            if token in _CLOSER:
                opener = m
            continue
        if token == _CLOSER[opener.group()]:
            content = text[opener.end() : m.start()]
            if opener.group() in ("$", "\\(") and "\n" in content:
                opener = m if token == "$" else None  # an inline span never crosses a line
                continue
            if content.strip():
                spans.append((opener.start(), m.end(), content.strip()))
            opener = None
    return spans


def boxed_run(text: str) -> str | None:
    """The last boxed answer, joined with the boxes right before it that only connectors separate."""
    found = _last_boxed_run(text)
    return found[1] if found else None


def _last_boxed_run(text: str) -> tuple[int, str] | None:
    """(end position, answer) of the last run of boxes."""
    starts = [m for m in BOX_START.finditer(text)]
    if not starts:
        return None
    pairs = matching_braces(text)
    boxes = [(m.start(), m.end(), pairs[m.end() - 1]) for m in starts if m.end() - 1 in pairs]
    return _joined_run(text, [(start, close + 1, text[inner:close]) for start, inner, close in boxes])


def _joined_run(text: str, items: list[tuple[int, int, str]]) -> tuple[int, str] | None:
    """The last item joined with those right before it that only connectors ("and", "or", commas)
    separate: `\\boxed{1} and \\boxed{-2}` or `$1$ and $2$` are one answer."""
    if not items:
        return None
    run = [items[-1]]
    for item in reversed(items[:-1]):
        if item[1] <= run[0][0] and _CONNECTOR.fullmatch(text[item[1] : run[0][0]]):
            run.insert(0, item)
        else:
            break
    answer = ", ".join(content.strip().rstrip(",.;") for _, _, content in run if content.strip())
    return (run[-1][1], answer) if answer else None


def _after_phrase(text: str, language: str) -> str | None:
    """The text right after the last answer phrase (English or `language`), up to its line's end."""
    found = _phrase_position(text, language)
    if found is None:
        return None
    last = found
    return text[last : last + 400].split("\n", 1)[0].strip() or text[last : last + 400].strip() or None


def _phrase_position(text: str, language: str) -> int | None:
    last = None
    for lang in {"en", language}:
        for m in _PHRASES[lang].finditer(text):
            if last is None or m.end() > last:
                last = m.end()
    return last


def decimal_comma(number: str, language: str) -> str:
    """`1000,99`, `2,74`, `0,111` -> a decimal point; `1,234` stays a thousands grouping unless the
    language writes decimal commas."""
    if "," not in number or "." in number:
        return number.replace(",", "")
    if language in DECIMAL_COMMA_LANGUAGES and number.count(",") == 1:
        return number.replace(",", ".")
    if _GROUPED.fullmatch(number) and not number.lstrip("-").startswith("0,"):
        return number.replace(",", "")
    return number.replace(",", ".") if number.count(",") == 1 else number


def _phrase_answer(rest: str, language: str) -> str | None:
    """What an answer phrase commits to: a box on its line, else its first math span or number that
    holds a value ("The largest $n$ is 34" -> 34), the value after the last `=` where there is one."""
    boxed = boxed_run(rest)
    if boxed:
        return boxed
    spans = span_positions(rest)
    if "=" in rest and not spans:
        rest = rest.rsplit("=", 1)[1]
    numbers = [(m.start(), m.end(), m.group()) for m in _NUMBER.finditer(rest)]
    outside = [n for n in numbers if not any(s <= n[0] < e for s, e, _ in spans)]
    candidates = sorted(spans + [(a, b, decimal_comma(t.replace(" ", ""), language)) for a, b, t in outside])
    valued = [c for c in candidates if not _BARE_NAME.fullmatch(c[2])]  # "The largest $n$ is 34" -> 34
    chosen = next(iter(valued or candidates), None)
    if chosen is None:
        return _word_answer(rest)
    following = [s for s in spans if s[0] >= chosen[0]]  # "$12$ and $13$" is one answer
    if chosen in spans and len(following) > 1:
        joined = _joined_run(rest, _leading_run(rest, following))
        return joined[1] if joined else chosen[2]
    return chosen[2]


def _word_answer(rest: str) -> str | None:
    """An answer in words: "three boxes ..." -> 3, "east." -> east; not "correct" or "that ..."."""
    words = re.findall(r"[A-Za-z]+", rest[:40])
    if not words:
        return None
    first = words[0].lower()
    if first in NUMBER_WORDS:
        return str(NUMBER_WORDS[first])
    if len(words) == 1 and first not in _NOT_ANSWERS:
        return words[0]
    return None


def _leading_run(text: str, items: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """The first item and those right after it that only connectors separate."""
    run = items[:1]
    for item in items[1:]:
        if not _CONNECTOR.fullmatch(text[run[-1][1] : item[0]]):
            break
        run.append(item)
    return run


def _expression_only(text: str) -> bool:
    """A short output with no prose (`\\frac{10}{9}`, `x \\geq 5`): the whole of it is the answer."""
    inner = text.strip().strip("$")
    return len(text) <= 300 and "\n" not in inner and "$" not in inner and not _PROSE.search(text)


def lenient_answer(text: str, language: str | None = None) -> str | None:
    """The answer a stored output gives, read as math-verify and lighteval read it (module docstring)."""
    lang = language_code(language)
    region = answer_region(text)
    if region is None or region is text:
        return _read(text, text, lang)
    return _read(region, text, lang) or _read(text, text, lang)  # a solution block cut off: read it all


def _read(region: str, text: str, lang: str) -> str | None:
    boxed = _last_boxed_run(region) or _last_boxed_run(text)
    final = _FINAL_PHRASE.search(region[boxed[0] :]) if boxed else None
    if boxed and not final:  # a "final answer" after the last box overrides it
        return boxed[1]
    rest = _after_phrase(region, lang)
    if rest:
        found = _phrase_answer(rest, lang)
        if found:
            return found
    if boxed:
        return boxed[1]
    if _expression_only(region):
        whole = region.strip().strip("$").strip()
        return decimal_comma(whole, lang) if re.fullmatch(r"-?\d+,\d+", whole) else whole or None
    span = _joined_run(region, span_positions(region))
    numbers = list(_NUMBER.finditer(region))
    if numbers and (span is None or numbers[-1].start() >= span[0]):  # the later of the two, as those graders
        return decimal_comma(numbers[-1].group().replace(" ", ""), lang)
    return span[1] if span else None


def lenient_gold(gold: str, language: str | None = None) -> str:
    """A reference written as prose or with delimiters (`\\(\\boxed{1}\\) and \\(\\boxed{-2}\\).`,
    `$$x = 1$$`) read as an answer; a bare reference is kept as it is."""
    if "\\boxed" in gold or "\\fbox" in gold:
        return boxed_run(gold) or gold
    span = _joined_run(gold, span_positions(gold))
    return span[1] if span else gold


def lenient_choice(text: str, language: str | None = None) -> str | None:
    """The option letter a stored output commits to (module docstring)."""
    lang = language_code(language)
    region = answer_region(text)
    if region is None:
        region = text
    boxed = boxed_run(region)
    if boxed and (letter := choice_letter(boxed)):
        return letter
    rest = _after_phrase(region, lang)
    if rest is not None:
        m = _ANY_LETTER.search(rest[:80])
        if m:
            return m.group(1)
    m = _LINE_LETTER.search(region)
    if m:
        return m.group(1)
    letters = [m for m in _ANY_LETTER.finditer(region) if not _pronoun(region, m)]
    return letters[-1].group(1) if letters else None


def _pronoun(text: str, m: re.Match) -> bool:
    """ "I think", "A because": the letter is a word here, not an option."""
    return m.group(1) in "AI" and bool(re.match(r"[ \t]+[a-z]", text[m.end() : m.end() + 3]))
