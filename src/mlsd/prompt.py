"""Understand an ML system design interview prompt: infer question-bank answers from its words.

``infer(text)`` runs deterministic regular-expression rules over the prompt and returns
``Inference`` records (weakest and earliest first), each with the exact words that support
it. ``as_answers`` folds them into a dict of raw answers (later and stronger inferences win)
that ``engine.resolve`` accepts: an inference that would break a bank condition or rule is dropped.

The rules are data: tables of ``_Rule`` rows (pattern, bank key, value, rule name). A value may
be a function of the match (numbers with units and rates). One shared mechanism handles
negation (a cue such as "no", "not" or "n't" among the few words before a match, in the same
clause): the row's ``neg`` says whether a negated match is dropped, kept, or means another
value ("no real-time requirement" means batch). Standard library only; the rule regexes
compile on first use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple


@dataclass(frozen=True)
class Inference:
    """One answer read from the prompt: bank key, valid value, supporting words, rule name."""

    key: str
    value: object
    evidence: str
    rule: str


_SKIP, _KEEP = object(), object()  # sentinels for _Rule.neg


class _Rule(NamedTuple):
    pattern: str  # case-insensitive; "{N}" stands for a number with an optional unit
    key: str
    value: object  # the answer, or a function of the match returning it (None: no answer)
    name: str
    neg: object = _SKIP  # when negated: _SKIP drops the match, _KEEP ignores negation, else this value
    strength: int = 1  # higher wins over position; a negated value gets strength + 1
    claim: bool = False  # reserve the matched words so later rules cannot reuse them
    check: bool = True  # skip the match when its words (or its number) are already claimed
    unless: str | None = None  # skip when this matches the clause before the match
    need: str | None = None  # require this to match the clause before the match


# Numbers, units and rates -------------------------------------------------------------------

_NUM = (
    r"(?<![\w.,])(?P<num>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
    r"|(?:once|twice|one|two|three|four|five|six|seven|eight|nine|ten)\b)"
    r"(?:\s?(?P<unit>thousand|million|billion|trillion|mn|bn|tn|k|m|b|t)\b)?\+?"
)
_WORDS = {"once": 1, "twice": 2, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_WORDS |= {"six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
_UNITS = {"thousand": 1e3, "k": 1e3, "million": 1e6, "mn": 1e6, "m": 1e6, "billion": 1e9, "bn": 1e9, "b": 1e9}
_UNITS |= {"trillion": 1e12, "tn": 1e12, "t": 1e12}
_PER_DAY = {"second": 86_400, "sec": 86_400, "s": 86_400, "minute": 1_440, "min": 1_440, "hour": 24, "hr": 24}
_PER_DAY |= {"h": 24, "day": 1, "week": 1 / 7, "month": 1 / 30, "year": 1 / 365, "hourly": 24, "daily": 1}
_PER_DAY |= {"weekly": 1 / 7, "monthly": 1 / 30, "yearly": 1 / 365, "annually": 1 / 365}


def amount(number: str, unit: str | None = None) -> float:
    """Return ``number`` ('1.5', '10,000', 'twice') times ``unit`` ('k', 'M', 'bn', 'trillion')."""
    text = number.strip().lower().replace(",", "")
    base = _WORDS[text] if text in _WORDS else float(text)
    return base * _UNITS[unit.lower()] if unit else base


def per_day(value: float, rate: str) -> int:
    """Return ``value`` per ``rate`` ('second', 'hour', 'month', 'hourly', ...) as a whole number per day."""
    return round(value * _PER_DAY[rate.lower()])


def _count(m: re.Match) -> int:
    return round(amount(m["num"], m["unit"]))


def _per_user(m: re.Match) -> int | None:
    value = _count(m)
    return value if value <= 10_000 else None  # more is an event total, not one user's requests


def _seconds_ms(m: re.Match) -> int:
    return round(amount(m["num"], m["unit"]) * 1000)


def _daily(m: re.Match) -> int:
    rate = m.groupdict().get("per") or m.groupdict().get("adv") or "day"
    return per_day(amount(m["num"], m["unit"]), rate.lower().removeprefix("a ").strip())


def _cadence(m: re.Match) -> str:
    word = m["c"].lower()
    return {"hour": "hourly", "day": "daily", "night": "daily", "nightly": "daily", "week": "weekly"}.get(
        word, "manual" if word in ("manually", "on demand") else word
    )


# Rule tables -------------------------------------------------------------------------------
# fmt: off

R = _Rule
_FRESH_CUE = r"featur|fresh|stale|\bold\b|updat|refresh|\blags?\b|delay|ingest|reflect|propagat"
_EVENTS = (r"(?:impressions|clicks|transactions|events|views|posts|payments|orders|rides|trips|searches|queries"
           r"|uploads|interactions|bookings|deliveries|messages|comments|likes|requests|videos|images|photos|records"
           r"|logs|page ?views|purchases|ads|notifications|emails|swipes|sessions)")
_RATE = (r"(?:(?:per|a|an|each|every|/)\s?(?P<per>second|sec|s|minute|min|hour|hr|h|day|week|month|year)\b"
         r"|(?P<adv>daily|hourly|weekly|monthly|yearly|annually|a day))")
_ITEM_ADJ = (r"(?:active|unique|new|indexed|total|searchable|rental|live|distinct|existing|public|web|product|ad"
             r"|vacation|short|long|user-generated|uploaded|available|hosted|stored|eligible|internal)")
_ITEMS = (r"(?:videos|listings|items|documents|docs|products|ads|images|photos|pins|posts|events|homes|articles"
          r"|pages|songs|movies|restaurants|hotels|apartments|rentals|properties|jobs|creatives|skus|podcasts"
          r"|chunks|pdfs|files|tracks)")
_PEOPLE = r"(?:users?|people|customers|members|visitors|riders|viewers|shoppers)"

NUMERIC = [  # they claim their words and ignore negation ("no more than 50 ms" is still 50 ms)
    R(r"{N}\s?-?\s?(?:ms|msecs?|millis(?:econds?)?)\b", "latency_budget_ms", _count, "latency:ms",
      neg=_KEEP, claim=True, unless=_FRESH_CUE),
    R(r"(?:within|under|below|in|less than|at most|no more than|<=?|p\d\d(?:\.\d+)?(?: latency)?(?: of)?"
      r"|latency(?: budget| sla)?(?: of| is| under)?)\s?~?{N}\s?-?\s?(?:s|secs?|seconds?)\b",
      "latency_budget_ms", _seconds_ms, "latency:s", neg=_KEEP, claim=True, unless=_FRESH_CUE),
    R(r"\bsub[- ]?second\b", "latency_budget_ms", 1000, "latency:sub-second", neg=_KEEP, claim=True),
    R(r"\bhalf a second\b", "latency_budget_ms", 500, "latency:half-second", neg=_KEEP, claim=True),
    R(r"{N}\s?(?:qps|rps|req/s|(?:requests?|queries|calls|predictions) ?(?:per |a |/) ?s(?:ec(?:ond)?)?\b)",
      "peak_qps", _count, "scale:qps", neg=_KEEP, claim=True),
    R(r"(?:qps|rps|(?:requests|queries) per second)(?:\s?(?:of|is|at|around|about|peaks? at|:|=|~))*\s?{N}",
      "peak_qps", _count, "scale:qps", neg=_KEEP, claim=True),
    R(_PEOPLE + r"\b[^.;]{0,50}?{N}(?:\s?(?:times?|requests|queries|searches|refreshes|visits|sessions|predictions"
      r"|feed loads))?\s(?:a|per|each|every)\s?day\b",
      "requests_per_user_per_day", _per_user, "scale:requests-per-user", neg=_KEEP, claim=True),
    R(r"{N}\s?(?:requests|queries|searches|refreshes|visits|sessions|feed loads|page ?views|predictions|times"
      r"|recommendations) (?:per|a|each|every) (?:user|person|member|customer|rider)\b",
      "requests_per_user_per_day", _per_user, "scale:requests-per-user", neg=_KEEP, claim=True),
    R(r"{N}\s?(?:daily active users|daily actives?|daily active|daily users|daily visitors|DAUs?\b"
      r"|(?:active )?users (?:a|per|each|every) day|(?:active )?users daily)",
      "daily_active_users", _count, "scale:dau", neg=_KEEP, claim=True),
    R(r"(?:\bDAUs?|daily active users)(?:\s?(?:of|is|are|at|around|about|roughly|=|:|~))*\s?{N}",
      "daily_active_users", _count, "scale:dau", neg=_KEEP, claim=True),
    R(r"{N}\s?(?:(?:new|ad|card|payment|user|total)\s)?" + _EVENTS + r"(?:\s(?:are |were )?(?:uploaded|created"
      r"|made|processed|logged|served|shown|published|placed|booked))?\s?" + _RATE,
      "events_per_day", _daily, "scale:events", neg=_KEEP, claim=True),
    R(r"{N}\s?(?P<adv>daily|hourly|weekly|monthly) (?:(?:new|ad|card|payment|user)\s)?" + _EVENTS,
      "events_per_day", _daily, "scale:events", neg=_KEEP, claim=True),
    R(r"{N}\s?(?:" + _ITEM_ADJ + r"\s){0,2}" + _ITEMS + r"\b",
      "num_items", _count, "scale:items", neg=_KEEP, claim=True),
    R(r"(?:catalog(?:ue)?|corpus|inventory|index|library|collection) of (?:about |around |roughly |over |~)?{N}",
      "num_items", _count, "scale:items", neg=_KEEP, claim=True),
]

USE_CASES = [  # (pattern, preset id, strength): 1 a specific phrase, 0 a weak hint; strongest then earliest wins
    (r"\bads?[- ]?click|click(?:s|ing)? (?:on )?(?:an |the )?ads?\b|\bads? ranking|\bad (?:targeting|auction)",
     "ad-click-prediction", 1),
    (r"(?-i:\bCTR\b)|click[- ]?through[- ]rate|\badvertis(?:ers?|ing)\b", "ad-click-prediction", 0),
    (r"\bfraud\w*|\bchargebacks?\b|stolen (?:credit )?cards?|account takeover", "fraud-detection", 1),
    (r"recommend\w* (?:\w+ ){0,2}videos?\b|\bvideos? recommend\w*|youtube home ?page|home ?page videos?"
     r"|watch[- ]next|\bup[- ]next", "video-recommendation", 1),
    (r"\byoutube\b", "video-recommendation", 0),
    (r"news ?feeds?(?: ranking)?|\b(?:home|twitter|user|social|news) timelines?|timeline ranking|\bfeed ranking"
     r"|rank(?:s|ing)? (?:the |a |their )?(?:news ?|home |twitter )?(?:feed|timeline)", "personalized-news-feed", 1),
    (r"\bfeed\b", "personalized-news-feed", 0),
    (r"people you may know|(?-i:\bPYMK\b)|(?:friend|connection)s? (?:suggestions?|recommendations?)"
     r"|(?:suggest|recommend)\w* (?:new |potential )?(?:friends|connections)", "people-you-may-know", 1),
    (r"\blinkedin\b", "people-you-may-know", 0),
    (r"search ranking|rank\w* (?:the |web |product )?search results|search results? ranking"
     r"|(?:web|e-?commerce|product) search|search engine", "search-ranking", 1),
    (r"(?-i:\bETAs?\b)|estimated (?:time of )?arrival|arrival times?|delivery times?|travel times?"
     r"|trip durations?", "eta-prediction", 1),
    (r"similar (?:listings?|homes|rentals|properties|hotels|apartments)|vacation rentals?", "similar-listings", 1),
    (r"\bairbnb\b", "similar-listings", 0),
    (r"events? recommend\w*|recommend\w* (?:\w+ ){0,2}events\b|\beventbrite\b", "event-recommendation", 1),
    (r"harmful (?:content|posts?)|content moderation|moderat(?:e|ing) (?:posts|content|comments)|hate speech"
     r"|toxic (?:content|comments|posts)|misinformation|policy[- ]violating|\bnudity\b",
     "harmful-content-detection", 1),
    (r"\bharmful\b|\bmoderation\b", "harmful-content-detection", 0),
    (r"visual search|image search|similar images|search (?:by|with) (?:an )?image|image[- ]to[- ]image"
     r"|reverse image|similar (?:photos|pins)", "visual-search", 1),
    (r"\bpinterest\b", "visual-search", 0),
    (r"video search|search (?:for |over |across )?videos|text[- ]to[- ]video", "youtube-video-search", 1),
    (r"\bblur\w*|licen[cs]e plates?|street ?view", "street-view-blurring", 1),
    (r"(?-i:\bRAG\b)|retrieval[- ]augmented|chat ?bots?|(?:question[- ]answering|Q&A|answer(?:s|ing)? questions)"
     r" (?:over|on|from|about|using) (?:\w+ ){0,3}(?:documents|docs|documentation|manuals|knowledge ?base|wiki"
     r"|pdfs)|(?:LLM|GPT)[- ](?:based |powered )?(?:assistant|bot)|(?:AI|virtual|support) assistant",
     "rag-assistant", 1),
    (r"knowledge ?base", "rag-assistant", 0),
]

PHRASES = [
    R(r"retrain(?:ed|ing|s)?(?: (?:the |our |a )?models?)?(?: (?:once |twice )?(?:every|each|per|a|once a))?\s?"
      r"(?P<c>hourly|daily|nightly|weekly|hour|day|night|week|manually|on demand)\b",
      "retraining_cadence", _cadence, "ops:retrain", claim=True),
    R(r"(?P<c>hourly|daily|nightly|weekly) retrain(?:ing|ed|s)?", "retraining_cadence", _cadence, "ops:retrain",
      claim=True),
    # feature freshness
    R(r"near[- ]real[- ]?time|within (?:a few |several |a couple of )?minutes|(?:every|each) (?:few |couple of )?"
      r"(?:\d+ )?minutes?|minute[- ]level|(?:\d+|few)[- ]minutes?[- ](?:old|stale|fresh|delay|lag)",
      "feature_freshness", "minutes", "freshness:minutes", claim=True),
    R(r"real[- ]?time (?:features?|signals?|data|counters?|aggregates?|updates?|events?)|within (?:a few "
      r"|several |a couple of )?seconds|(?:every|each) (?:few |\d+ )?seconds?|second[- ]level|up[- ]to[- ]the"
      r"[- ]second|(?<!video )(?<!music )(?<!live )\bstreaming\b",
      "feature_freshness", "seconds", "freshness:seconds", claim=True),
    R(r"(?:within|under|in|<|than) \d+(?:\.\d+)? ?(?:seconds?|secs?|s)\b", "feature_freshness", "seconds",
      "freshness:seconds", need=_FRESH_CUE),
    R(r"\bhourly\b|every hour|(?:once )?(?:an|per|each) hour\b|within (?:the|an|one) hour|an hour old|hour[- ]old",
      "feature_freshness", "hourly", "freshness:hourly"),
    R(r"\bdaily\b(?! active| users?| actives?| uniques?| visitors)|\bnightly\b|once (?:a|per) day|every day"
      r"|(?:a|one) day old|day[- ]old|every 24 hours", "feature_freshness", "daily", "freshness:daily"),
    # prediction mode: explicit hybrid, then batch and online cues (both stated means hybrid)
    R(r"\bhybrid\b|both (?:batch|offline) and (?:online|real[- ]?time)|(?:batch|offline) (?:and|plus|\+) "
      r"(?:online|real[- ]?time)|(?:online|real[- ]?time) (?:and|plus|\+) (?:batch|offline)|precomputed[^.;]{0,60}?"
      r"(?:scored|ranked|re-?ranked|served) (?:online|at request time|in real[- ]?time)",
      "prediction_mode", "hybrid", "mode:hybrid", strength=2, claim=True),
    R(r"latency[- ](?:insensitive|tolerant)|latency (?:is not|isn't) (?:critical|important|a concern|an issue)"
      r"|\bno latency (?:requirement|constraint)", "prediction_mode", "batch", "mode:batch", strength=2, claim=True),
    R(r"(?<!mini-)(?<!mini )\bbatch(?:es|ed)?\b(?![- ](?:size|features?|engine|normali\w+))|(?:predict\w*|scor\w*"
      r"|infer\w*|comput\w*|process\w*|run|done|generat\w*|made) offline|offline (?:predictions?|scoring|inference"
      r"|jobs?|processing)|offline is fine|pre-?comput\w*|ahead of time|nightly (?:\w+ )?(?:jobs?|runs?|pipelines?"
      r"|scoring|predictions?)|scheduled (?:jobs?|runs?)",
      "prediction_mode", "batch", "mode:batch", unless=r"featur|train|embedd|\bindex"),
    R(r"(?<!near )(?<!near-)\breal[- ]?time\b(?![- ](?:features?|signals?|data|counters?|aggregates?|updates?))"
      r"|online (?:predictions?|inference|scoring|serving|ranking)|(?:served|scored|predicted|ranked) online"
      r"|per[- ]request|at request[- ]time|(?:on|for|with) (?:each|every) request|in the request path"
      r"|\bsynchronous(?:ly)?|low[- ]latency|latency[- ](?:sensitive|critical)|must (?:respond|return|answer|reply)",
      "prediction_mode", "online", "mode:online", neg="batch"),
    # ML task: a stated task overrides the preset's; retrieval (+ ranking) beats plain ranking
    R(r"retriev(?:e|es|al|ing)\b|candidate (?:generation|retrieval)|nearest[- ]neighbou?rs?|two[- ]tower",
      "ml_task", "retrieval", "task:retrieval", strength=2),
    R(r"learning[- ]to[- ]rank|\brank(?:s|ed|er|ers)?\b|ranking (?:model|problem|task)|(?-i:\bLTR\b)",
      "ml_task", "ranking", "task:ranking"),
    R(r"binary (?:classifier|classification|label|outcome)|predict(?:s|ing)? whether|yes/no",
      "ml_task", "binary_classification", "task:binary"),
    R(r"multi-?class(?:ification)?|(?:one of|into) (?:\d+|several|many|multiple) (?:mutually exclusive )?"
      r"(?:classes|categories)", "ml_task", "multiclass", "task:multiclass"),
    R(r"multi-?label|multiple labels", "ml_task", "multilabel", "task:multilabel"),
    R(r"(?<!logistic )\bregress(?:ion|or|ing)?\b(?![- ]test)|continuous (?:value|target|output|label)",
      "ml_task", "regression", "task:regression"),
    # privacy
    R(r"anonymi[sz]ed|de-?identified|pseudonymi[sz]ed|(?:pii|personal data)[- ]free",
      "contains_pii", False, "privacy:no-pii", neg=True, claim=True),
    R(r"\bPII\b|personal(?:ly identifiable)? (?:data|information|info|details)|\bGDPR\b|\bHIPAA\b|\bCCPA\b"
      r"|\be-?mails?\b|phone numbers?|(?:health|medical|patient) (?:records|data|information)|payment cards?"
      r"|credit cards?|card numbers?|(?-i:\bSSNs?\b)|social security|home address(?:es)?|dates? of birth|biometric",
      "contains_pii", True, "privacy:pii", neg=False),
    # online experiment
    R(r"\bshadow(?:[- ](?:mode|deploy\w*|traffic|test\w*|launch))?\b(?![- ]?ban)|dark launch\w*",
      "experiment", "shadow", "experiment:shadow", strength=3),
    R(r"\bA/?B[- ]?test\w*|\bA/B\b|split[- ]test\w*|(?:online|live|controlled|randomi[sz]ed) experiment\w*"
      r"|\bexperiment(?:s|ation)?\b(?![- ]tracking)", "experiment", "ab", "experiment:ab", neg="none"),
]

TOOLS = [  # (pattern, key, value): a named tool, unless negated ("no Kafka")
    (r"light ?gbm", "trainer", "lightgbm"), (r"xgboost", "trainer", "xgboost"),
    (r"pytorch|\btorch\b", "trainer", "pytorch"), (r"scikit[- ]learn|sklearn", "trainer", "sklearn"),
    (r"\bgrpc\b", "serving", "grpc"), (r"(?-i:\bREST(?:ful)?\b)|restful|fastapi|http api", "serving", "rest"),
    (r"\bspark\b|pyspark|databricks", "batch_engine", "spark"), (r"duckdb", "batch_engine", "duckdb"),
    (r"\bkafka\b", "stream_engine", "kafka"), (r"\bflink\b", "stream_engine", "flink"),
    (r"\bfeast\b", "feature_store", "feast"), (r"\bairflow\b", "orchestrator", "airflow"),
    (r"\bkubeflow\b", "orchestrator", "kubeflow"), (r"\bprefect\b", "orchestrator", "prefect"),
    (r"\bmlflow\b", "registry", "mlflow"), (r"kubernetes|\bk8s\b|(?-i:\b(?:EKS|GKE|AKS)\b)", "deploy", "kubernetes"),
    (r"docker[- ]compose", "deploy", "compose"), (r"\bfaiss\b", "vector_index", "faiss"),
    (r"\bhnsw(?:lib)?\b", "vector_index", "hnswlib"), (r"github actions", "ci", "github"),
    (r"gitlab", "ci", "gitlab"),
]

# fmt: on

# When both values of a key are stated (and nothing stronger is), they mean the combined value.
_COMBOS = [("prediction_mode", "batch", "online", "hybrid"), ("serving", "rest", "grpc", "rest+grpc")]

_NEGATION = re.compile(r"\b(?:no|not|never|without|non|nor|neither|cannot|rather than|instead of)\b|n't\b", re.I)
_CLAUSE_END = re.compile(r"[;:!?,()\n]|\.(?=\s|$)|\b(?:and|but|however|while|whereas)\b", re.I)
_NORMALIZE = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-"})
_NORMALIZE |= str.maketrans({"\u2019": "'", "\u00a0": " ", "\t": " ", "\r": " ", "\u2264": "<"})


@cache
def _compiled() -> list[tuple[re.Pattern, _Rule]]:
    rows = list(NUMERIC)
    rows += [
        R(p, "use_case", value, f"use-case:{value}", strength=s, claim=True, check=False) for p, value, s in USE_CASES
    ]
    rows += PHRASES
    rows += [R(p, key, value, f"tool:{value}") for p, key, value in TOOLS]
    return [(re.compile(row.pattern.replace("{N}", _NUM), re.I), row) for row in rows]


@cache
def _questions() -> dict[str, dict]:
    from mlsd import bank

    return {q["key"]: q for q in bank.QUESTIONS}


def _valid(key: str, value: object) -> bool:
    q = _questions()[key]
    if q["type"] == "int":
        return isinstance(value, int) and q.get("min", 0) <= value <= q.get("max", value)
    if q["type"] == "choice" and "choices_from" not in q:
        return value in q["choices"]
    return True


def _clause_before(text: str, start: int, size: int = 60) -> str:
    chunk = text[max(0, start - size) : start]
    cuts = [m.end() for m in _CLAUSE_END.finditer(chunk)]
    return chunk[cuts[-1] :] if cuts else chunk


def _negated(clause: str) -> bool:
    return bool(_NEGATION.search(" ".join(clause.split()[-5:])))


def _overlaps(span: tuple[int, int], claimed: list[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in claimed)


_Found = tuple[int, int, int, Inference]  # (strength, start, end, inference)


def infer(text: str) -> list[Inference]:
    """Return what the prompt says about the bank's answers, weakest and earliest first."""
    norm = text.translate(_NORMALIZE)
    claimed: list[tuple[int, int]] = []
    found: list[_Found] = []
    cases: list[_Found] = []
    for regex, rule in _compiled():
        for m in regex.finditer(norm):
            core = m.span("num") if "num" in regex.groupindex and m["num"] else m.span()
            if rule.check and _overlaps(core, claimed):
                continue
            clause = _clause_before(norm, m.start())
            if (rule.unless and re.search(rule.unless, clause, re.I)) or (
                rule.need and not re.search(rule.need, clause, re.I)
            ):
                continue
            value, strength = rule.value, rule.strength
            if rule.neg is not _KEEP and _negated(clause):
                if rule.neg is _SKIP:
                    continue
                value, strength = rule.neg, rule.strength + 1
            value = value(m) if callable(value) else value
            if value is None or not _valid(rule.key, value):
                continue
            if rule.claim:
                claimed.append(m.span())
            item = (strength, m.start(), m.end(), Inference(rule.key, value, text[m.start() : m.end()], rule.name))
            (cases if rule.key == "use_case" else found).append(item)
    if cases:
        strength, start, end, best = max(cases, key=lambda c: (c[0], -c[1]))
        found.append((1, start, end, best))
    found += [
        (0, s, e, Inference("prediction_mode", "online", inf.evidence, "mode:latency"))
        for _, s, e, inf in found
        if inf.key == "latency_budget_ms"
    ]
    found += _combined(found, text)
    found.sort(key=lambda f: (f[0], f[1], f[2]))
    return [f[3] for f in found]


def _combined(found: list[_Found], text: str) -> list[_Found]:
    extra: list[_Found] = []
    for key, first, second, both in _COMBOS:
        own = [f for f in found if f[3].key == key]
        if any(f[0] >= 2 for f in own):
            continue
        a = next((f for f in own if f[3].value == first), None)
        b = next((f for f in own if f[3].value == second), None)
        if a and b:
            start, end = min(a[1], b[1]), max(a[2], b[2])
            extra.append((2, start, end, Inference(key, both, text[start:end], f"{key}:both")))
    return extra


def as_answers(inferences: list[Inference]) -> dict:
    """Return key -> value from ``inferences`` (a later one wins), valid together for the bank.

    Answers that would break a bank condition or rule given the rest (for example an experiment
    or requests per user with batch prediction, from the prompt or the use case preset) are
    dropped, and so is a latency budget when the prediction mode ends up batch.
    """
    from mlsd import engine
    from mlsd.spec import spec

    answers = {inf.key: inf.value for inf in inferences}
    while answers:
        try:
            resolved, _ = engine.resolve({"project_name": "Prompt Service", **answers}, spec())
        except engine.AnswerError as error:
            message = str(error)
            named = sorted((message.index(k), k) for k in answers if re.search(rf"\b{k}\b", message))
            answers.pop(named[0][1] if named else next(reversed(answers)))
            continue
        if resolved["prediction_mode"] == "batch":
            answers.pop("latency_budget_ms", None)
        break
    return answers
