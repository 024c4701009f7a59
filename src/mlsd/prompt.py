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

import keyword
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
    strength: float = 1  # higher wins over position; a negated value gets strength + 1
    claim: bool = False  # reserve the matched words so later rules cannot reuse them
    check: bool = True  # skip the match when its words (or its number) are already claimed
    unless: str | None = None  # skip when this matches the clause before the match
    need: str | None = None  # require this to match the clause before the match


# Numbers, units and rates -------------------------------------------------------------------

_NUM = (
    r"(?<![\w.,])(?P<num>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
    r"|(?:once|twice|one|two|three|four|five|six|seven|eight|nine|ten)\b"
    r"|(?:half an?|tens of|hundreds of|dozens of|a few|several|a couple of|an?)(?=\s(?:thousand|million|billion"
    r"|trillion)))"
    r"(?:\s?(?P<unit>thousands?|millions?|billions?|trillions?|mn|bn|tn|k|m|b|t)\b)?\+?"
)
_WORDS = {"once": 1, "twice": 2, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_WORDS |= {"six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
_WORDS |= {"half a": 0.5, "half an": 0.5, "a": 1, "an": 1, "a couple of": 2, "a few": 3, "several": 5}
_WORDS |= {"tens of": 30, "dozens of": 36, "hundreds of": 300}  # the middle of the range, shown as evidence
_UNITS = {"thousand": 1e3, "k": 1e3, "million": 1e6, "mn": 1e6, "m": 1e6, "billion": 1e9, "bn": 1e9, "b": 1e9}
_UNITS |= {"trillion": 1e12, "tn": 1e12, "t": 1e12}
_PER_DAY = {"second": 86_400, "sec": 86_400, "s": 86_400, "minute": 1_440, "min": 1_440, "hour": 24, "hr": 24}
_PER_DAY |= {"h": 24, "day": 1, "week": 1 / 7, "month": 1 / 30, "year": 1 / 365, "hourly": 24, "daily": 1}
_PER_DAY |= {"weekly": 1 / 7, "monthly": 1 / 30, "yearly": 1 / 365, "annually": 1 / 365}


def amount(number: str, unit: str | None = None) -> float:
    """Return ``number`` ('1.5', '10,000', 'twice') times ``unit`` ('k', 'M', 'bn', 'trillion')."""
    text = " ".join(number.lower().replace(",", "").split())
    base = _WORDS[text] if text in _WORDS else float(text)
    if not unit:
        return base
    unit = unit.lower()
    return base * _UNITS[unit if unit in _UNITS else unit.removesuffix("s")]


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


_NOT_COUNTED = set(
    "second minute hour day night week month quarter year time ms percent dollar euro pound cent unit step meter"
    " kilometer mile kg gram tonne ton byte gb mb tb degree point star"
    " categor class type department group bucket tier level segment topic genre intent team queue label kind language"
    " species reason".split()
)


def _noun(m: re.Match) -> str:
    return _singular(m["noun"]).removesuffix("-")


def _thing_daily(m: re.Match) -> int | None:
    """Any counted thing with a rate is an event stream ("2,500 flights a day"), unless it counts people."""
    noun = _noun(m)
    return None if _is_person(noun) or noun in _NOT_COUNTED or noun.startswith("categor") else _daily(m)


def _people_daily(m: re.Match) -> int | None:
    """People counted per day ("5 million residents open it each day") are daily active users."""
    rate = (m.groupdict().get("per") or m.groupdict().get("adv") or "day").lower()
    return _count(m) if _is_person(_noun(m)) and rate in ("day", "daily", "a day") else None


def _people_total(m: re.Match) -> int | None:
    return _count(m) if _is_person(_noun(m)) else None


def _thing_total(m: re.Match) -> int | None:
    """A large count of things with no rate is the catalogue ("over 2 million contracts")."""
    noun, value = _noun(m), _count(m)
    if _is_person(noun) or noun in _NOT_COUNTED or noun.startswith("categor") or value < 1000:
        return None
    return value


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
           r"|logs|page ?views|purchases|ads|notifications|emails|swipes|sessions|panoramas|sign-?ups|calls|claims"
           r"|tickets|applications|reviews|listings|pings|readings|scans|rsvps|bids|shipments|plays|streams|downloads"
           r"|installs|logins|visits|parcels|packages|frames|songs|tracks|chats|conversations|questions|documents)")
_RATE = (r"(?:(?:per|a|an|each|every|/)\s?(?P<per>second|sec|s|minute|min|hour|hr|h|day|week|month|year)\b"
         r"|(?P<adv>daily|hourly|weekly|monthly|yearly|annually|a day))")
_ITEMS = (r"(?:videos|listings|items|documents|docs|products|ads|images|photos|pins|posts|events|homes|articles"
          r"|pages|songs|movies|restaurants|hotels|apartments|rentals|properties|jobs|creatives|skus|podcasts"
          r"|chunks|pdfs|files|tracks|postings|panoramas|cars|vehicles|garments|recipes|talks|clips|titles|courses"
          r"|books|stores|meetups|experiences|profiles|pieces|artworks|apps|games|sellers|merchants|places|stays"
          r"|candidates|resumes|lectures|episodes|shows|playlists|ad creatives)")
_PEOPLE = (r"(?:users?|people|customers|members|visitors|riders|viewers|shoppers|subscribers|learners|students|players"
           r"|readers|cardholders|patients|listeners|guests|passengers|travell?ers|buyers|employees|clients|gamers"
           r"|borrowers|diners|fans|attendees|job seekers|cooks|leads|policyholders|applicants|households|merchants"
           r"|drivers|hosts|accounts|advertisers|tenants|professionals|creators|developers|doctors)")
_NOT_MONTHLY = r"(?:(?!monthly|weekly|yearly|annual|registered|total)[a-z-]+\s){0,2}"

NUMERIC = [  # they claim their words and ignore negation ("no more than 50 ms" is still 50 ms)
    R(r"{N}\s?-?\s?(?:ms|msecs?|millis(?:econds?)?)\b", "latency_budget_ms", _count, "latency:ms",
      neg=_KEEP, claim=True, unless=_FRESH_CUE),
    R(r"(?:within|under|below|in|less than|at most|no more than|<=?|p\d\d(?:\.\d+)?(?: latency)?(?: of)?"
      r"|latency(?: budget| sla)?(?: of| is| under)?)\s?~?{N}\s?-?\s?(?:s|secs?|seconds?)\b",
      "latency_budget_ms", _seconds_ms, "latency:s", neg=_KEEP, claim=True, unless=_FRESH_CUE),
    R(r"\bsub[- ]?second\b", "latency_budget_ms", 1000, "latency:sub-second", neg=_KEEP, claim=True),
    R(r"\bhalf a second\b", "latency_budget_ms", 500, "latency:half-second", neg=_KEEP, claim=True),
    R(r"(?:within|under|below|in|less than|at most|no more than) (?:a|one) (?:second|sec)\b", "latency_budget_ms", 1000,
      "latency:a-second", neg=_KEEP, claim=True, unless=_FRESH_CUE),
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
    R(r"{N}\s?(?:daily (?:active )?" + _PEOPLE + r"|(?:[a-z-]+\s)?" + _PEOPLE + r" (?:a|per|each|every) day)\b",
      "daily_active_users", _count, "scale:dau", neg=_KEEP, claim=True),
    R(r"(?:\bDAUs?|daily active users)(?:\s?(?:of|is|are|at|around|about|roughly|=|:|~))*\s?{N}",
      "daily_active_users", _count, "scale:dau", neg=_KEEP, claim=True),
    R(r"{N}\s?(?:(?!per\b|a\b|each\b)[a-z-]+\s){0,2}" + _EVENTS + r"(?:\s(?:are |were )?(?:uploaded|created"
      r"|made|processed|logged|served|shown|published|placed|booked))?\s?" + _RATE,
      "events_per_day", _daily, "scale:events", neg=_KEEP, claim=True),
    R(r"\b" + _EVENTS + r"(?:\s?(?::|=|~|of|are|is|at|around|about|roughly))*\s?{N}\s?" + _RATE,
      "events_per_day", _daily, "scale:events", neg=_KEEP, claim=True),
    R(r"{N}\s?(?P<adv>daily|hourly|weekly|monthly) (?:(?:new|ad|card|payment|user)\s)?" + _EVENTS,
      "events_per_day", _daily, "scale:events", neg=_KEEP, claim=True),
    R(r"{N}\s?(?:(?!per\b|a\b|an\b|each\b|of\b)[a-z-]+\s){0,2}?(?P<noun>[a-z-]+s)\b(?:\s(?!per\b|a\b|an\b"
      r"|each\b|every\b|of\b)[a-z-]+){0,3}?\s?" + _RATE, "daily_active_users", _people_daily, "scale:people-daily",
      neg=_KEEP, claim=True),
    R(r"{N}\s?(?:(?!per\b|a\b|an\b|each\b|of\b)[a-z-]+\s){0,2}?(?P<noun>[a-z-]+s)\b(?:\s(?!per\b|a\b|an\b"
      r"|each\b|every\b|of\b)[a-z-]+){0,3}?\s?" + _RATE, "events_per_day", _thing_daily, "scale:things-daily",
      neg=_KEEP, claim=True),
    R(r"{N}\s?" + _NOT_MONTHLY + _PEOPLE + r"\b", "daily_active_users", _count, "scale:people", neg=_KEEP,
      claim=True, strength=0),
    R(r"{N}\s?" + _NOT_MONTHLY + r"(?P<noun>[a-z-]+s)\b", "daily_active_users", _people_total, "scale:people",
      neg=_KEEP, claim=True, strength=0),
    R(r"{N}\s?(?:(?!per\b|a\b|each\b|of\b)[a-z-]+\s){0,2}" + _ITEMS + r"\b",
      "num_items", _count, "scale:items", neg=_KEEP, claim=True),
    R(r"(?:catalog(?:ue)?|corpus|inventory|index|library|collection|backlog|archive|database) of (?:about |around "
      r"|roughly |over |~)?{N}",
      "num_items", _count, "scale:items", neg=_KEEP, claim=True),
    R(r"{N}\s?(?:(?!per\b|a\b|each\b|of\b)[a-z-]+\s){0,2}?(?P<noun>[a-z-]+s)\b", "num_items", _thing_total,
      "scale:things", neg=_KEEP, claim=True, unless=r"\b(?:taxonomy|list|set|one|which|any|choice) of\s?$"),
]

# Use-case cues: per preset, (pattern, weight). 3 names the domain on its own ("content moderation",
# "look-alike images"), 2 is a strong hint ("photo", "transactions"), 1 a weak one. A prompt's score
# for a preset is the sum of its distinct, non-negated cues (overlapping matches count once).
CUES = {
    "ad-click-prediction": [
        (r"\bads?[- ]?clicks?|click(?:s|ing|ed)? (?:on )?(?:an |the |a )?(?:\w+ )?ads?\b|\bads? (?:ranking|auction"
         r"|targeting"
         r"|serving|relevance|system|platform|network)|\bad (?:creatives?|impressions?|campaigns?)|sponsored (?:posts?"
         r"|ads?|listings?|results?|content)|banner ads?|promoted (?:posts?|tweets?|pins?|listings?)|which ads"
         r"|\badvertis(?:ers?|ing|ements?)\b|(?-i:\bCTR\b)|click[- ]?through|\bpay[- ]per[- ]click", 3),
        (r"\bads?\b|\bimpressions?\b|\bbids?\b|\bbidding\b|publisher(?:s| network)?|\bcampaigns?\b|\bcreatives?\b", 2),
        (r"\bclicks?\b|\bclicked\b|\brevenue\b|\bmonetiz\w*", 1),
        (r"\bsponsored \w+|display advertising|promoted \w+|(?:chance|probability|likel\w*) (?:\w+ ){0,6}(?:click"
         r"|tap)\w*", 3),
        (r"cost[- ]per[- ](?:click|mille|thousand|action)|(?-i:\bCPC\b|\bCPM\b)|\bad auctions?\b", 3),
        (r"\bauctions?\b", 2),
        (r"\bpaid (?:placements?|listings?|results?|slots?|posts?|search|promotions?)|(?:revenue|cost|price) per "
         r"(?:impression|click|thousand)|\bper[- ]impression", 3),
        (r"\bplacements?\b|\bmarketers?\b|\bbrands?\b|\bbanners?\b|\bpromotions?\b", 2),
        (r"\bclick[- ]?(?:probabilit\w*|rates?|likelihood|predictions?)|\bp-?CTR\b|\bwhich (?:\w+ )?ads\b"
         r"|\bads? (?:to show|shown|displayed)", 3),
        (r"\b(?:text|search|display|video|native|mobile|in-app|social) ads?\b|app[- ]installs?"
         r"|cost[- ]per[- ]install", 3),
    ],
    "fraud-detection": [
        (r"\bfraud\w*|\bchargebacks?\b|stolen (?:credit )?cards?|account takeovers?|money laundering|\bAML\b"
         r"|promo(?:tion)? abuse|fake (?:trips|accounts|transactions|orders|bookings|reviews|claims|payments)"
         r"|fake (?:[\w-]+ )?(?:reviews|ratings|likes|followers|accounts|listings|profiles)"
         r"|(?:review|click|bot|troll) farms?|\bscam\w*|suspicious (?:transactions?|activity|payments?|logins?"
         r"|orders?)|card[- ]not[- ]present"
         r"|unauthori[sz]ed (?:transactions?|charges?|payments?)|\bcollusion\b|identity theft", 3),
        (r"\btransactions?\b|\bpayments?\b|\babuse\b|\bfraudsters?\b|risk scor\w*|\bcheckouts?\b|\brefunds?\b"
         r"|\bwire transfers?\b|\banomal\w*", 2),
        (r"\bmerchants?\b|\bwallets?\b|\bbank\w*|\bcards?\b|\bblock\w*|\bdecline\w*", 1),
        (r"compromised (?:credentials|cards?|accounts?)|\bfabricat\w*|\bforg(?:ed|ery)\b|\bbogus\b"
         r"|\bstolen\b", 3),
        (r"\bfake\b|\bauthori[sz]\w*|\billegitimate\b|\binvestigators?\b|\bsock ?puppets?\b|\bsybil\b|\bbots?\b", 2),
        (r"\bexaggerat\w*|\bstaged\b|\binflated\b|\bimpersonat\w*|\bphishing\b", 2),
        (r"money mules?|\bmule accounts?|stripe radar|\bsynthetic identit\w*|(?:referral|bonus|coupon"
         r"|promo\w*|refund|return) abuse|abus\w* (?:\w+ ){0,2}(?:referral|bonus|coupon|promo)\w*|multiple accounts"
         r"|multi-?accounting|card authori[sz]ations?|suspicious (?:\w+ )?(?:claims?|accounts?|behaviou?r|sign-?ups?"
         r"|transfers?)", 3),
        (r"\bsuspicious\b|\bbilling\b|\binsurers?\b", 1),
    ],
    "video-recommendation": [
        (r"recommend\w* (?:\w+ ){0,3}(?:videos?|clips?|movies|shows|films|series)\b|(?:video|movie|film|show) "
         r"(?:recommend\w*|suggestions?)|(?:suggest\w*|personali[sz]\w*) (?:\w+ ){0,2}(?:videos?|clips?|movies|shows"
         r"|films)\b|watch[- ]next|\bup[- ]next|recommended for you|youtube home ?page|home ?page videos?"
         r"|short[- ]form video|\btiktok\b|\bnetflix\b|what to watch|\bnext (?:clips?|videos?) to watch", 3),
        (r"\bvideos?\b|\bclips?\b|\bmovies\b|\bfilms?\b|\btv shows?\b|streaming (?:service|platform|app)"
         r"|watch (?:history|time)|\bwatched\b|\bviewers?\b", 2),
        (r"\byoutube\b", 3),
        (r"recommend\w*|\bsuggest\w*|personali[sz]\w*|home ?page|\bsubscribers?\b", 1),
        (r"for you['\"]? (?:page|feed|tab)|short[- ]video|\bautoplay\w*|next (?:episode|video|clip|film|movie)s?", 3),
        (r"\bepisodes?\b|\bseries\b|\btv\b", 2),
        (r"because you watched|continue watching", 3),
        (r"\btitles\b", 2),
        (r"\b(?:next|which) (?:[\w-]+ ){0,2}to (?:play|watch|stream|binge)\b", 3),
        (r"\bcartoons?\b|\banime\b|\bdocumentar(?:y|ies)\b|\btrailers?\b|\bwatch\w*|\bmoviegoers?\b|\bcinemas?\b"
         r"|\bsitcoms?\b", 2),
    ],
    "personalized-news-feed": [
        (r"news ?feeds?|\b(?:home|twitter|user|social|news|activity) (?:feed|timeline)s?|\bfeed ranking"
         r"|rank(?:s|ing)? (?:the |a |their |our )?(?:news ?|home |social )?feed|(?:feed|scroll) of posts"
         r"|(?:sees?|see|shown?|appears?|show up) first|\bscroll\w* (?:a |the |their )?feed|posts? from (?:friends"
         r"|groups|people"
         r"|accounts|pages)", 3),
        (r"\bfeeds?\b|\bposts\b|\bstories\b|\bupdates\b|\barticles\b|news aggregator|\bengagement\b", 2),
        (r"\bsocial\b|\bfriends\b|\blikes\b|\bcomments\b|\bshares\b|\bgroups\b|\bfollow\w*", 1),
        (r"(?:order|rank)\w* (?:of )?(?:the )?(?:\w+ )?(?:posts|stories|updates|tweets)|status updates"
         r"|home screen", 3),
        (r"\btweets?\b", 2),
        (r"(?:order|rank)\w* (?:of )?(?:the )?(?:\w+ )?(?:threads|posts|stories|updates|tweets|timeline|feed|articles)"
         r"|front page", 3),
        (r"\bnews (?:app|site|website|aggregator|reader|portal)s?\b|\bheadlines\b", 2),
        (r"\btimelines?\b", 2),
        (r"\bthreads?\b|\bforums?\b|\bsubreddits?\b", 2),
    ],
    "people-you-may-know": [
        (r"people you (?:may|might) know|(?-i:\bPYMK\b)|(?:friends?|connections?|follow) (?:suggestions?"
         r"|recommend\w*)|(?:suggest|recommend)\w* (?:new |potential |other )?(?:friends|connections|people|users"
         r"|accounts|members)\b|suggested (?:follows?|friends|connections|accounts)|who to follow"
         r"|accounts? (?:\w+ ){0,3}"
         r"(?:should )?follow|likely to (?:know|connect|befriend)|\bbefriend\w*|connect with|friend requests?", 3),
        (r"\bfriends?(?:hips?)?\b|\bconnections?\b|social graph|\bfollows?\b|\bfollowers?\b|professional network\w*"
         r"|\blinkedin\b|\bmutual\b|\bgraph\b", 2),
        (r"\bmembers\b|\bnetwork\b|\bprofiles?\b", 1),
        (r"grow (?:your|their) network|new connections|(?:people|players|users|members"
         r"|someone) (?:\w+ ){0,3}(?:might|may|would) (?:want to )?(?:add|know|follow|connect|befriend)"
         r"|potential contacts|become (?:friends|connected|connections)|pairs of (?:users|people|members)"
         r"|link prediction", 3),
        (r"\bcontacts\b|\badd (?:as )?(?:a )?friends?\b", 2),
        (r"\b(?:you|they|he|she|we) (?:may|might|could) (?:also |already )?know\b", 3),
        (r"\b(?:suggest|recommend)\w* (?:(?:new|potential|other|relevant|interesting|more|likely) )*(?:[\w-]+ )?"
         r"(?:followers|creators|people|friends|users|accounts|members|connections|contacts|players|colleagues|peers"
         r"|mentors|partners)\b", 3),
        (r"\b(?:people|accounts|users|members|creators|developers|players|others|profiles|\w+ers) to (?:follow|add"
         r"|connect"
         r" with|befriend|message)\b|\b(?:classmates|colleagues|coworkers|co-workers|alumni|neighbou?rs"
         r"|acquaintances)\b",
         3),
    ],
    "search-ranking": [
        (r"search ranking|rank\w* (?:the |web |product )?(?:search )?results|search results?|search engine"
         r"|(?:web|e-?commerce|product|job|app[- ]store|site|marketplace|shopping|internal) search|(?:text |search "
         r"|user )"
         r"?(?:query|queries) (?:to|->|→) (?:ordered |ranked )?(?:results|products|items|list)"
         r"|for (?:a|each|the|their) (?:[\w-]+'s )?"
         r"(?:text |search |user )?query|relevance ranking|learning[- ]to[- ]rank", 3),
        (r"\bsearch(?:es|ing|ed)?\b|\bquer(?:y|ies)\b|\bkeywords?\b|\brelevan\w*", 2),
        (r"\brank\w*|\border(?:s|ing|ed)?\b|click logs|\bproducts\b|\bcatalog\w*|\bresults\b|\bretrieval\b", 1),
        (r"query[- ]to[- ]\w+|search (?:bar|box)|(?:enterprise|document|code|intranet|catalog(?:ue)?) search"
         r"|results? ranking|ranking (?:of )?(?:the )?(?:search )?results", 3),
        (r"\bauto-?complet\w*|\btypeahead\b|query suggestions?|spell(?:ing)? correction|query understanding", 2),
        (r"(?:hotel|flight|travel|job|product|site|app|people|property|house|car|recipe|music|local|map|restaurant"
         r"|grocery|shop|store) search\b|\breturned (?:for|when|by|in response)|\bwhen (?:a|the|someone|users?|people)"
         r" (?:\w+ )?(?:searches|types|queries|looks? up)|\btypes? (?:a |in a |their )?(?:\w+ )?(?:query"
         r"|destination|keywords?"
         r"|search terms?)", 3),
    ],
    "youtube-video-search": [
        (r"video search|search\w* (?:for |over |across |through |our |a |the )?(?:\w+ ){0,2}(?:videos?|clips?)\b"
         r"|text[- ]to[- ]video|(?:videos?|clips?) (?:for|matching) (?:a |the )?(?:text |search )?quer(?:y|ies)"
         r"|find (?:\w+ ){0,2}(?:videos?|clips?) by (?:describing|keywords?|text|words)|(?:rank|order)\w* "
         r"(?:the )?videos? (?:for|to)", 3),
        (r"\bvideos?\b|\bclips?\b|\bfootage\b|\blectures?\b|\byoutube\b", 2),
        (r"\byoutube(?:'s)? search|search (?:on |in )?youtube|(?:videos?|clips?) by what|what is (?:said|spoken)"
         r"|spoken words?", 3),
        (r"\b(?:sentence|phrase|text|words?|description|question) (?:typed|written|entered)|\btyped (?:sentence|phrase"
         r"|text|words|description)|video (?:library|archive|catalog\w*|collection)|(?:videos?|clips?) whose", 3),
        (r"\bspeech\b|\bspoken\b", 2),
        (r"\bsearch\w*|\bquer(?:y|ies)\b|describ\w*", 2),
        (r"video titles|\btranscripts?\b|(?:matching|relevant) (?:\w+ )?(?:videos|clips)|video results|(?:videos?"
         r"|clips?) by (?:keywords?|text|description)|type (?:a |in a )?(?:description|query|text)|search terms", 3),
    ],
    "eta-prediction": [
        (r"(?-i:\bETAs?\b)|estimated (?:time of )?arrival|arrival[- ]times?|delivery (?:times?|windows?|dates?"
         r"|estimates?)|travel times?|trip (?:durations?|times?)|how long (?:\w+ ){0,5}(?:arrive|deliver\w*|get there"
         r"|reach|travel|drive|ride|walk|fly)|when (?:\w+ ){0,4}(?:arrive|be delivered|reach)|time to (?:arrive"
         r"|deliver\w*|pick ?up)"
         r"|pick[- ]?up times?|time of arrival|\bdrive[- ]time", 3),
        (r"\barriv\w*|\bdeliver(?:y|ies|ed)?\b|\broutes?\b|\bgps\b|\btrips?\b|\bdrivers?\b|\brides?\b|ride[- ]hailing"
         r"|\bcouriers?\b|\bparcels?\b|\bbuses\b|\btransit\b|\btrucks?\b|\bdispatch\w*", 2),
        (r"\btraffic\b|\bdistance\b|\bminutes\b|\bmaps?\b|\bpackages?\b|\blogistics\b|how long (?:\w+ ){0,5}take", 1),
        (r"(?:take|takes|taking) to (?:reach|arrive|get|be delivered)|arrival estimates?"
         r"|when (?:\w+ ){0,6}(?:will )?arrive", 3),
        (r"\bdoor(?:step)?\b|\bdrop[- ]?offs?\b|food (?:orders?|delivery)|\bfreight\b|\bshipments?\b|\bcommut\w*", 2),
        (r"(?:days|hours|minutes) until (?:\w+ ){0,4}(?:delivered|arrives?|ready|shipped)|(?:is|be|get) delivered", 3),
        (r"\b(?:cost|costs|price|prices|fee|fees|revenue|demand|spend)\b|\b(?:number|count|volume) of\b", -3),
        (r"\b(?:minutes|hours|days|time|long) (?:until|before|till) (?:\w+ ){0,4}(?:reach\w*|arriv\w*|deliver\w*|ready"
         r"|shipped|pick\w* (?:\w+ )?up|gets? (?:there|to|home))", 3),
        (r"\btaxis?\b|\bcabs?\b|\brideshare\b|\bpassengers?\b", 2),
    ],
    "similar-listings": [
        (r"similar (?:listings?|homes|rentals|properties|hotels|apartments|vehicles|cars|places|stays|houses)"
         r"|vacation rentals?|short[- ]term rentals?|\bairbnb\b|(?:places|listings?|homes|properties|stays|hotels)"
         r" like (?:this|these|the one)|you (?:may|might) also like|more (?:places|listings|homes|stays) like", 3),
        (r"\blistings?\b|\brentals?\b|\bpropert(?:y|ies)\b|\bhotels?\b|\bbookings?\b|detail pages?|\bhomes\b"
         r"|\bsimilar\b|like this|\bstays?\b", 2),
        (r"\bmarketplace\b|\bguests?\b|\bhosts?\b|\bcars?\b|\bvehicles?\b|\bembed\w*|\bsessions?\b", 1),
        (r"vacation homes?|holiday[- ](?:homes?|rentals?|lets?)|(?:homes?|hotels?|listings?|properties"
         r"|apartments) (?:that )?resembl\w*|comparable (?:homes|hotels|listings|properties|apartments|stays|cottages"
         r"|cabins|villas|houses|flats|rooms|chalets)", 3),
        (r"\bresembl\w*|\bcomparable\b|\bapartments?\b|\btravel\b", 2),
        (r"(?:other|similar|more) (?:cabins|homes|listings|properties|apartments|hotels|rooms|villas|houses|stays"
         r"|lodges)", 3),
        (r"\bcabins?\b|\bvillas?\b|\blodges?\b|next to it|alongside", 2),
        (r"similar (?:products|items)|more like this|related (?:products|items|listings)|(?:customers|people|users)"
         r" (?:who )?(?:also )?viewed", 3),
        (r"\bsearch\w*|\bquer(?:y|ies)\b", -1),
    ],
    "event-recommendation": [
        (r"events? (?:recommend\w*|suggestions?)|(?:recommend|suggest)\w* (?:\w+ ){0,3}(?:events|meetups|concerts"
         r"|talks|shows|activities|experiences)\b|things to do|\bmeetups?\b|\beventbrite\b|upcoming events"
         r"|\bconcerts?\b"
         r"|\brsvps?\b|side events", 3),
        (r"\bevents?\b|\battendees?\b|\bvenues?\b|\bconferences?\b|\btalks\b|\bfestivals?\b|this weekend|\battend\w*"
         r"|\bexpire\w*", 2),
        (r"\blocation\w*|\bcity\b|\bnearby\b|\bdistance\b|cold[- ]start", 1),
        (r"community events|events? app|local (?:concerts|events|gigs|shows)|\bgigs?\b(?! (?:platform|economy|work"
         r"|workers|marketplace))|\bfestivals?\b", 3),
        (r"\bworkshops?\b|\bclasses\b|(?<!support )(?<!help desk )(?<!helpdesk )\bticket(?:s|ing)?\b|\bshows\b", 2),
        (r"nearby (?:happenings|events|parties|things|activities)", 3),
        (r"\bhappenings\b|\bparties\b|\bexhibitions?\b|\bnightlife\b", 2),
        (r"local (?:sports|events|concerts|gigs|shows|matches|theat(?:re|er))|comedy (?:nights?|shows?|clubs?)", 3),
        (r"\bmatches\b|\bplays\b|\bcomedy\b|\bnights? out\b", 2),
    ],
    "harmful-content-detection": [
        (r"\bharmful\b|content moderation|\bmoderat\w*|hate(?:ful)?(?: speech)?\b|\btoxic\w*|\babusive\b"
         r"|\bviolen(?:t|ce)"
         r"|misinformation|disinformation|policy[- ]violating|violat\w* (?:\w+ ){0,2}(?:policy|policies|guidelines"
         r"|rules"
         r"|terms)|\bnudity\b|\bnsfw\b|\bporn\w*|\bbully\w*|\bharass\w*|take (?:\w+ ){0,2}down|\bprohibited\b"
         r"|\boffensive\b|trust (?:and|&) safety|human review\w*|extremis\w*|\bgraphic (?:content|violence)"
         r"|\binappropriate\b|\bsexual\w*|\bself[- ]harm", 3),
        (r"\bflag\w*|\bunsafe\b|\bsafe\b|\bremov\w*|\breport(?:s|ed)?\b|review queue|\bviolations?\b|\bintegrity\b", 2),
        (r"\bposts?\b|\bcomments?\b|\bcontent\b|user[- ]generated|\buploads?\b", 1),
        (r"\bslurs?\b|\bthreats?\b|community (?:guidelines|standards)|break\w* (?:the |our )?(?:rules|guidelines"
         r"|polic(?:y|ies))", 3),
        (r"before (?:it |they )?(?:is |are )?(?:published|posted|shown|going live|goes live|go live)", 2),
        (r"\bterroris\w*|\bpropaganda\b|child (?:abuse|safety|exploitation)", 3),
        (r"\bprofan\w*|personal attacks?|\binsult\w*|\bviolen(?:t|ce)\b|\bgore\b|\bgraphic (?:imagery|images|videos"
         r"|photos)|\bexplicit\b|\bobscen\w*|\bvulgar\w*|\bslander\w*|\bdefamat\w*", 3),
        (r"review of (?:\w+ )?(?:videos|posts|content|images|comments|uploads)", 2),
        (r"\b(?:spam|spammy|scam|abusive|fake|troll)(?: and \w+)? (?:comments|posts|messages|replies|accounts|content)",
         3),
    ],
    "visual-search": [
        (r"visual (?:search|discovery|similarity)|image (?:search|similarity|retrieval|lookup)|similar[- ]looking"
         r"|(?:similar|matching) (?:images|photos|pictures|pins|artwork)|search (?:by|with) (?:an |a |your )?(?:image"
         r"|photo|picture|camera)|image[- ]to[- ]image|reverse image|look[- ]?alikes?|look alike|visually similar"
         r"|(?:snap|take|upload\w*) (?:a )?(?:photo|picture)|camera search|shop[- ]the[- ]look|query (?:is an "
         r"|photo|image)"
         r"|\bpinterest\b|(?:photo|image|picture)s? (?:containing|that look)|points? the camera"
         r"|near[- ]duplicates?", 3),
        (r"\bimages?\b|\bphotos?\b|\bpictures?\b|\bcamera\b|\bpins?\b|\bvisual\w*|\bartwork\b", 2),
        (r"\bsimilar\w*|nearest[- ]neighbou?rs?|\bembed\w*", 1),
        (r"\bresembl\w*|look(?:s)? the same|\bfurniture\b|\bfashion\b", 2),
        (r"in (?:a |the |their |an? )?(?:\w+'s )?(?:photo|picture|image)\b", 3),
        (r"\boutfits?\b|\bstyle\b|\blens\b", 2),
        (r"google lens|\bstylesnap\b|bing visual|\bthat look (?:the same|alike|similar|like (?:it|them|this))", 3),
        (r"\bphotograph\w*|\bsnapshots?\b", 2),
    ],
    "street-view-blurring": [
        (r"\bblur\w*|licen[cs]e plates?|\bplates\b|street ?view|\bpixelat\w*|anonymi[sz]\w* (?:\w+ ){0,2}(?:faces"
         r"|plates"
         r"|pedestrians|people)|faces and (?:licen[cs]e )?plates|street[- ]level|\bpanoramas?\b"
         r"|hide (?:the )?identit\w*"
         r"|\bredact\w* (?:faces|plates)", 3),
        (r"\bfaces?\b|\bpedestrians?\b|\bvehicles?\b|\bimagery\b|object detection|capture vans?|mapping (?:product"
         r"|service|app)|\bstreets?\b", 2),
        (r"\bprivacy\b|\bimages\b|\bcameras?\b|\bdetect\w*|\banonymi[sz]\w*", 1),
        (r"\bobscur\w*|registration (?:numbers|plates)|number plates?|\bmask\w* (?:\w+ ){0,3}faces|360[- ]degree"
         r"|\bdash ?cams?\b", 3),
    ],
    "rag-assistant": [
        (r"(?-i:\bRAG\b)|retrieval[- ]augmented|chat ?bots?|question[- ]answering|\bQ ?&A\b|answer\w* (?:\w+ ){0,3}"
         r"questions|knowledge ?base|\bgrounded\b|cit(?:es?|ing|ations?) (?:\w+ ){0,2}sources?|with (?:citations"
         r"|references|sources)|\bLLMs?\b|\bGPT\w*|chatgpt|\bcopilot\b|(?:AI|virtual|support|knowledge|internal|HR"
         r"|help ?desk|LLM|GPT) assistant|natural[- ]language questions|ask (?:\w+ ){0,3}questions", 3),
        (r"\bdocuments?\b|\bdocs\b|\bdocumentation\b|\bhandbook\b|\bmanuals?\b|\bwiki\b|\bconfluence\b|\bpolic(?:y|ies)"
         r"|\bguidelines\b|\bpdfs?\b|\bassistant\b|\banswers?\b|\bquestions?\b|\bgenerat\w*|\bcitations?\b", 2),
        (r"\bretriev\w*|\bsearch\w*|\bindex\w*", 1),
        (r"(?:support|help|customer service|q&a|faq) ?bots?|plain english|\bquot\w* (?:the )?(?:passages|sources)"
         r"|\bpassages\b|help[- ]?cent(?:er|re)|\brunbooks?\b|\bfaqs?\b|answers? (?:\w+ ){0,2}(?:drawn from"
         r"|based on|using|from)", 3),
    ],
}

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
    R(r"(?:within|under|in|<|than) (?:\d+(?:\.\d+)? ?|an? |one )(?:seconds?|secs?|s)\b", "feature_freshness", "seconds",
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
    R(r"(?:scor|re-?comput|refresh|re-?scor|run|generat|predict|report|send|email)\w*(?: [\w'-]+){0,7}? (?:(?:every"
      r"|each|once a) (?:night|day|morning|week|month|quarter)|(?:nightly|overnight|weekly|monthly)\b)"
      r"|(?:refreshed|recomputed|rescored|scored|generated|run|sent) (?:nightly|daily|weekly|monthly|overnight)"
      r"|(?:daily|weekly|monthly|quarterly) (?:reports?|lists?|scores?|emails?)",
      "prediction_mode", "batch", "mode:batch-schedule", check=False, unless=r"featur|train|embedd|\bindex|retrain"),
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
    R(r"binary (?:classifier|classification|label|outcome)|(?:predict|decid|determin|tell|judg)\w* whether|yes/no"
      r"|\b(?:safe|spam|fraud\w*|fake|legit\w*|genuine) or (?:not|unsafe|spam|real|fake|genuine)\b",
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

# The ML task from the question's shape, for custom use cases only (a preset brings its own task,
# and a stated task such as "regression" wins over these). Strengths order them: a question with
# categories is multiclass even when it also says "will".
_CATEGORY_NOUNS = (r"(?:categor(?:y|ies)|class(?:es)?|types?|departments?|groups?|buckets?|tiers?|levels?|segments?"
                   r"|brackets?|bands?"
                   r"|topics?|genres?|intents?|teams?|queues?|severit(?:y|ies)|priorit(?:y|ies)|labels?|kinds?)")
_QUANTITIES = (r"(?:number|amount|price|value|time|duration|count|volume|revenue|demand|sales|cost|quantity|rating"
               r"|age|temperature|spend|spending|income|yield|load|usage|consumption|size|weight|distance|salary"
               r"|premium|sale price|length|turnover|profit|balance|occupancy|stock|score|grade|mark|life)s?")
_OPTION = r"[a-z][\w-]*(?: [a-z][\w-]*){0,2}"
_OPTIONS = rf"{_OPTION}(?:, {_OPTION})+,? (?:or|and) [a-z][\w-]*"
"""A list of three or more choices: "blight, rust or healthy", "billing, technical support, sales or cancellations"."""
_CHOOSING_VERBS = "classif|categori[sz]|sort|rout|assign|bucket|triag|group|label|mark|grade|direct|send|forward|split"
_CHOOSING_VERBS += "|divide|separat"
_CHOOSING = r"\b(?:" + _CHOOSING_VERBS + r")\w*"
_SORTED_INTO = _CHOOSING + r" (?:[\w-]+ ){0,6}?(?:as|into|to|among|between) (?:either )?(?:an? )?(?=" + _OPTIONS + ")"
_TOLD_APART = r"\b(?:tell apart|distinguish|differentiate|discriminate)(?: between| among)? (?:the )?"
_TOLD_APART += "(?=" + _OPTIONS + ")"
_OUT_OF = (r"\b(?:out of|among|into|(?:chosen|picked|selected) from|one of) (?:about |around |roughly |some |over )?"
           r"(?:\d[\d,]*|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|several"
           r"|dozens of|hundreds of) (?:possible |different |known |supported )?((?:[a-z-]+ )?[a-z-]+s)\b")
_SCALE = (r"\b(?:on|along) an? (?:(?:\d+|two|three|four|five|six|seven|eight|nine|ten)[- ](?:level|point|grade|step"
          r"|stage|tier) )?([a-z]+) scale\b")
_SEVERAL = (r"\b(?:covers?|mentions?|touch(?:es)?|discuss(?:es)?|spans?|has|have|contains?|shows?|raises?)"
            r" (?:several|multiple|many|more than one)\b|\b(?:several|multiple|many|more than one|two or more)"
            r" (?:can|may|might|could|often|usually) (?:appear|occur|apply|be present|co-?occur|show up)\b")
SHAPES = [
    R(r"multi-?label|all (?:the )?(?:[\w-]+ ){0,2}that apply|\ball (?:the )?relevant\b|\b(?:can|may) (?:have|touch"
      r"|carry|belong to|be in|fall into|fit|get|mention|contain|show) (?:several|multiple|many|more than one)\b"
      r"|\bwith (?:the|its|their) (?:[a-z]+ )?[a-z]+s (?:it|they) (?:shows?|has|have|contains?|mentions?|depicts?"
      r"|includes?|covers?|lists?|names?|offers?)\b"
      r"|" + _SEVERAL + r""
      r"|\b(?:detect|find|extract|identify|list|predict|tag|assign)\w*"
      r" all (?:the )?[\w-]+s\b|(?:several|multiple"
      r"|many|any number of) (?:tags|labels|topics|attributes|genres)\b|tag\w* (?:\w+ ){0,6}with (?:multiple"
      r"|several|every|each"
      r"|all|any)", "ml_task", "multilabel", "shape:which-tags", strength=0.65, check=False),
    R(r"which of (?:the |these |those |our |its )?(?:\w+ ){0,3}" + _CATEGORY_NOUNS + r"\b|(?:into|as|to) one of"
      r"|one of (?:\d+|two|three|four|five|six|seven|eight|nine|ten|twelve|several|many|\w+) (?:\w+ )?"
      + _CATEGORY_NOUNS + r"\b|(?:classif|categori[sz]|sort|rout|assign|bucket|triag|group)\w* (?:[\w-]+ ){0,6}?"
      r"(?:into|to|among|between|by) (?:[\w-]+ ){0,3}?(?:" + _CATEGORY_NOUNS + r"\b|(?:\w+, )+\w+,? (?:and|or) \w+)"
      r"|\w+, \w+,? (?:and|or) \w+ (?:severity|priority|risk|urgency|sentiment)|auto[- ]?categori[sz]\w*"
      r"|\b[a-z]+: (?:\w+, )+\w+,? (?:and|or) \w+\b|\bwhich [a-z]+(?<!s) (?:is|does|do|should|will|would)\b"
      r"|there are (?:\d+|\w+) (?:different |possible )?[a-z]+s\b"
      r"|which (?:category|department|class|type|team|queue|genre|topic|intent|bucket|tier)\b"
      r"|\bwhich of (?:the |these |our |its )?(?:[\d,]+ |\w+ )?(?:[a-z-]+ )?[a-z-]+s (?:is|appears|does|fits|matches"
      r"|applies|belongs|best)\b|\b(?:predict|detect|identify|determine|assign|infer|choose|pick|guess"
      r"|recogni[sz]e)\w* (?:the|a|an|its|their) (?:[a-z-]+'s )?(?:[a-z-]+ )?" + _CATEGORY_NOUNS + r"\b",
      "ml_task", "multiclass", "shape:which-category", strength=0.6, check=False),
    R(_SORTED_INTO + "|" + _TOLD_APART + "|" + _OUT_OF + "|" + _SCALE, "ml_task", "multiclass", "shape:which-option",
      strength=0.6, check=False),
    R(r"how (?:many|much|long|soon)\b|\bforecast\w*|(?:predict|estimat|project|expect|calculat|comput"
      r"|work out|figure out)\w* (?:the |a |an |each |every"
      r" |their |its |our |how |next |future )*(?:[\w']+ ){0,2}?" + _QUANTITIES + r"\b|lifetime value|(?-i:\bLTV\b)"
      r"|\b(?:expected|future|total) (?:number|revenue|value|sales|demand|spend)|time (?:until|to|before|between) "
      r"|\bin (?:days|hours|minutes|seconds|weeks|months|years|dollars|euros|pounds|units|tonnes|tons|kilograms|kg"
      r"|grams|litres|liters|gallons|kwh|kilowatt[- ]hours|metres|meters|kilometres|kilometers|km|miles|percent"
      r"|points|mm|millimetres|millimeters)\b|\bwhat " + _QUANTITIES + r"\b",
      "ml_task", "regression", "shape:how-much", strength=0.5, check=False),
    R(r"\b(?:water|noise|glucose|sugar|stock|inventory|pollution|oxygen|fuel|battery|sound|sea|river|tide|ozone|co2"
      r"|pollen|reservoir|groundwater|snow) levels?\b|\bon a scale (?:of|from) (?:\d|one|zero)",
      "ml_task", "regression", "shape:measured", strength=0.62, check=False),
    R(r"recommend\w*|\bsuggest\w*|\bsimilar\b|from (?:a|the|our|its) catalog\w*|match\w* (?:\w+ ){0,2}(?:to|with)\b"
      r"|\bnearest\b|personali[sz]ed (?:list|picks|selection)", "ml_task", "retrieval", "shape:recommend",
      strength=0.47, check=False),
    R(r"\brank\w*|\border\w* (?:the |these |their )?(?:\w+ )?(?:results|items|list|candidates|options)\b"
      r"|\b(?:order|sort)\w* (?:the |these |their )?(?:\w+ )?\w+s\b[^.;]{0,60}?\bby\b"
      r"|prioriti[sz]\w*|\bsort\w* (?:\w+ ){0,3}by\b|\btop[- ](?:\d+|k|n)\b", "ml_task", "ranking", "shape:order",
      strength=0.46, check=False),
    R(r"\bwhether\b|(?:which|if) (?:\w+[ -]){0,5}?(?:will|would|is likely to|are likely to|are going to|is going to)\b"
      r"|\blikely to\b|\bprobability\b|\blikelihood\b|\bchances?\b|\bpropensity\b|\bor not\b|yes[/ ]no|\bflag\w*"
      r"|\bdetect\w*|\bspam\b|\bchurn\w*|\bdefault\w*|\bconver(?:t|ts|ted|ting|sions?)\b|\bscor(?:e|es|ing)\b",
      "ml_task", "binary_classification", "shape:will-it", strength=0.45, check=False),
    R(r"\bestimat\w*|\bpredict\w* (?:the |a |an )(?!probability|likelihood|chance|risk)",
      "ml_task", "regression", "shape:estimate", strength=0.4, check=False),
]

# fmt: on

# When both values of a key are stated (and nothing stronger is), they mean the combined value.
_COMBOS = [("prediction_mode", "batch", "online", "hybrid"), ("serving", "rest", "grpc", "rest+grpc")]

_NEGATION = re.compile(r"\b(?:no|not|never|without|non|nor|neither|cannot|rather than|instead of)\b|n't\b", re.I)
_CLAUSE_END = re.compile(r"[;:!?,()\n]|\.(?=\s|$)|\b(?:and|but|however|while|whereas)\b", re.I)
_NORMALIZE = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-"})
_NORMALIZE |= str.maketrans({"\u2019": "'", "\u00a0": " ", "\t": " ", "\r": " ", "\u2264": "<"})


@cache
def _compiled(table: str = "rules") -> list[tuple[re.Pattern, _Rule]]:
    if table == "shapes":
        rows = list(SHAPES)
    else:
        rows = [*NUMERIC, *PHRASES, *(R(p, key, value, f"tool:{value}") for p, key, value in TOOLS)]
    return [(re.compile(row.pattern.replace("{N}", _NUM), re.I), row) for row in rows]


@cache
def _questions() -> dict[str, dict]:
    try:
        from mlsd import bank
    except ImportError:  # embedded in a template hook without mlsd installed: the hook's SPEC holds the bank
        return {q["key"]: q for q in globals()["SPEC"]["questions"]}
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


_Found = tuple[float, int, int, Inference]  # (strength, start, end, inference)


def infer(text: str) -> list[Inference]:
    """Return what the prompt says about the bank's answers, weakest and earliest first.

    A preset is chosen by ``recognise``; without one, the ML task comes from the question's shape
    and the label, entities and project name from its subject (``subject``).
    """
    norm = text.translate(_NORMALIZE)
    found = _rule_matches(norm, text, _compiled())
    recognition = recognise(text)
    if recognition.use_case != "custom":
        use_case = Inference("use_case", recognition.use_case, recognition.evidence, f"use-case:{recognition.use_case}")
        named = [(start, end) for weight, start, end in recognition.hits if weight >= 3]
        # the words that name the preset do not also restate its task ("ads ranking" stays the ad preset's task)
        found = [f for f in found if not (f[3].rule.startswith("task:") and _overlaps(f[1:3], named))]
        found.append((1, *recognition.span, use_case))
    else:
        found += _rule_matches(norm, text, _compiled("shapes"))
    found += [
        (0, s, e, Inference("prediction_mode", "online", inf.evidence, "mode:latency"))
        for _, s, e, inf in found
        if inf.key == "latency_budget_ms"
    ]
    found += _combined(found, text)
    found.sort(key=lambda f: (f[0], f[1], f[2]))
    result = [f[3] for f in found]
    if recognition.use_case == "custom":
        tasks = [inf.value for inf in result if inf.key == "ml_task"]
        result = subject(text, str(tasks[-1]) if tasks else "binary_classification") + result
    return result


def _rule_matches(norm: str, text: str, rules: list[tuple[re.Pattern, _Rule]]) -> list[_Found]:
    claimed: list[tuple[int, int]] = []
    found: list[_Found] = []
    for regex, rule in rules:
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
            found.append(
                (strength, m.start(), m.end(), Inference(rule.key, value, text[m.start() : m.end()], rule.name))
            )
    return found


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


# Recognising the use case -----------------------------------------------------------------

MIN_SCORE = 4  # below this no preset is recognised, unless one decisive cue (weight 3) names it
MARGIN = 1.5  # the best preset must lead the runner-up by this much, else the design is custom


class Recognition(NamedTuple):
    """The preset a prompt describes (or custom), its score, evidence and the runner-up."""

    use_case: str
    score: float
    evidence: str
    span: tuple[int, int]
    runner_up: str
    runner_score: float
    note: str
    hits: tuple = ()  # (weight, start, end) of every cue of the chosen preset


# A task the prompt states outright ("whether ... is", "into one of 10 reasons", "how many") that a
# preset's model does not do counts against that preset: "whether a tweet is sarcastic" is not a feed.
_DETECTED_STATE = (
    r"\b(?:detect|flag|spot|catch|identify)\w* (?:all |the )?(?:[a-z]+(?:ous|ulent)|fake|counterfeit|defective"
    r"|faulty|broken|damaged|duplicate|forged|stolen|spam)\b"
)
_COUNT_WORD = r"(?:\d[\d,]*|two|three|four|five|six|seven|eight|nine|ten|twelve|several|many|multiple|a few)"
TASK_STATEMENTS = [
    (r"\bwhether\b|\b(?:probability|likelihood|odds) (?:that|of)\b|\bor not\b|\bif (?:a|an|the|this|each|every)"
     r" [\w-]+(?: [\w-]+){0,6} (?:will|is|are|would)\b|(?:^|[.?!]\s+)(?:will|would|does|do|is|are|can|could|did)"
     r" (?:a|an|the|this|that|each|my|our|any) [^.?!]{3,80}\?|" + _DETECTED_STATE
     + r"|\bwhich (?:of (?:the|our|their|its) )?[a-z-]+s (?:are|will|would) (?:going|likely|about) to\b",
     "binary_classification"),
    (r"\b(?:one|which) of (?:the |these |our |its )?" + _COUNT_WORD + r" |\b(?:classif|categori[sz]"
                                                                      r"|sort)\w* (?:[\w-]+ )"
     r"{0,5}?into\b|\bwhich (?:category|class|genre|department|team|queue|language|species|intent|topic|type)\b"
     r"|" + _SORTED_INTO + "|" + _TOLD_APART + "|" + _OUT_OF, "multiclass"),
    (r"\ball (?:the )?(?:[\w-]+ ){0,2}that apply|\ball (?:the )?relevant\b|\b(?:can|may) (?:have|touch|carry|belong to"
     r"|get|mention) (?:several|multiple|many)\b|\btag\w* (?:\w+ ){0,5}with (?:all|every|each)\b|" + _SEVERAL
     + r"|\b(?:tag|label)\w* (?:[\w-]+ ){0,5}with (?:the|its|their) (?:[a-z]+ )?[a-z]+s (?:it|they) ",
     "multilabel"),
    (r"\bhow (?:many|much|soon)\b", "regression"),
    (r"\b(?:rank|order|sort)(?:s|ing)? (?:the |their )?(?:[\w-]+ ){1,8}?(?:by|for each|in each)\b", "ranking"),
]  # fmt: skip
PRESET_TASKS = {  # the stated tasks a preset's model can answer (the rest count against it); others: ranking
    "ad-click-prediction": {"binary_classification", "ranking"},
    "fraud-detection": {"binary_classification", "multiclass", "ranking"},
    "harmful-content-detection": {"binary_classification", "multiclass", "multilabel", "ranking"},
    "street-view-blurring": {"binary_classification", "multiclass", "multilabel"},
    "eta-prediction": {"regression"},
    "rag-assistant": set(),
}
CONFLICT = 5  # the score a preset loses when the prompt states a task its model does not do


def stated_tasks(text: str) -> set[str]:
    """Return the ML tasks the prompt states in so many words."""
    norm = text.translate(_NORMALIZE)
    return {task for pattern, task in TASK_STATEMENTS if re.search(pattern, norm, re.I)}


@cache
def _compiled_cues() -> dict[str, list[tuple[re.Pattern, int]]]:
    return {preset: [(re.compile(p, re.I), weight) for p, weight in cues] for preset, cues in CUES.items()}


def preset_scores(text: str) -> list[tuple[float, str, list[tuple[int, int, int]]]]:
    """Return (score, preset, hits) for every preset, best first; a hit is (weight, start, end).

    Each cue counts once per distinct matched phrase and at most twice; a negated match does not
    count ("no personalisation"). A specific phrase also matches the broader cues inside it, so it
    weighs more than a broad word alone.
    """
    norm = text.translate(_NORMALIZE)
    tasks = stated_tasks(norm)
    ranking = []
    for preset, cues in _compiled_cues().items():
        hits: list[tuple[int, int, int]] = []
        for regex, weight in cues:
            seen: set[str] = set()
            for m in regex.finditer(norm):
                word = m.group().lower()
                if word in seen or len(seen) == 2 or _negated(_clause_before(norm, m.start())):
                    continue
                seen.add(word)
                hits.append((weight, m.start(), m.end()))
        score = sum(weight for weight, _, _ in hits)
        if hits and tasks - PRESET_TASKS.get(preset, {"ranking"}):
            score -= CONFLICT
        ranking.append((score, preset, hits))
    ranking.sort(key=lambda row: (-row[0], row[1]))
    return ranking


def recognise(text: str) -> Recognition:
    """Return the preset the prompt describes when it scores ``MIN_SCORE`` (3 with a decisive cue) and
    leads the runner-up by ``MARGIN``; otherwise custom, with a note that says why."""
    ranking = preset_scores(text)
    (best, preset, hits), (second, other, other_hits) = ranking[0], ranking[1]
    if hits:
        weight, start, end = max(hits, key=lambda hit: (hit[0], -hit[1]))
        evidence, span = text[start:end], (start, end)
    else:
        evidence, span = "", (0, 0)
    # a decisive cue does not carry a preset whose model cannot do the task the prompt states
    conflict = stated_tasks(text) - PRESET_TASKS.get(preset, {"ranking"})
    decisive = any(weight >= 3 for weight, _, _ in hits) and not conflict
    # a decisive cue against none needs a smaller lead: "fraudulent ads" is fraud, not ad clicks
    margin = MARGIN - 0.5 if decisive and not any(weight >= 3 for weight, _, _ in other_hits) else MARGIN
    if (best >= MIN_SCORE or (decisive and best >= 3)) and best - second >= margin:
        close = f"; runner-up {other} ({second:g})" if second and best - second < 2 * MARGIN else ""
        note = f"{preset} (score {best:g}){close}"
        return Recognition(preset, best, evidence, span, other, second, note, tuple(hits))
    if best >= MIN_SCORE or (decisive and best >= 3):
        note = (
            f"custom: {preset} ({best:g}) and {other} ({second:g}) are too close to choose;"
            f" pass --preset {preset} or --preset {other} to start from one"
        )
    elif best > 0:
        note = (
            f"custom: no preset matched well enough: the closest, {preset}, scores {best:g} of the {MIN_SCORE} needed"
        )
    else:
        note = "custom: the prompt names no preset's domain"
    return Recognition("custom", best, evidence, span, other if best else "", second, note)


# The subject of a custom design: label, entities and a project name ----------------------

_STOP = set(
    "a an the of in on at for to from by with and or but as into per is are was be been will would can could should"
    " that which who whom whose so than then when where while using based each every their its our your his her"
    " they them this these those it within over under after before about across via if whether not no do does"
    " did has have had must may might also only just more most how what there here we you i me my us until"
    " sell buy ship need get receive have make take use see want go come open close spend earn pay leave watch read"
    " say require generate produce consume handle serve arrive happen fail respond become expect belong contain"
    " include reach sells ships needs gets receives belongs contains written sent made given taken shown seen known"
    " done built sold bought coming going appears appear".split()
)
_NOT_VERBS = set("a an the be been have not also still then this that it they to more less".split())
_GENERIC = set(
    "model system service pipeline engine tool api app feature platform solution classifier predictor"
    " algorithm design stack project probability likelihood chance risk".split()
)
_TIME_WORDS = set(
    "second minute hour day night week month quarter year interval slot period window time today tomorrow tonight"
    " yesterday weekend morning evening afternoon shift season semester term".split()
)
_PERSON = set(
    "resident citizen hiker volunteer engineer rep nurse teacher lawyer investor trader author writer artist musician"
    " athlete child parent kid adult recruiter vendor partner contractor courier agent analyst manager tourist commuter"
    " voter alumnus alumni classmate colleague coworker renter landlord taxpayer reviewer contributor participant"
    " person people human individual consumer purchaser bidder caller sender recipient follower friend contact"
    " influencer streamer broadcaster publisher teenager teen senior retiree beneficiary claimant insured subscriber"
    " speaker attendee audience runner cyclist pilot crew staff physician clinician therapist caregiver pharmacist"
    " farmer grower supplier seller dealer broker planner organizer organiser volunteer candidate job-seeker"
    " jobseeker hirer employer freelancer tasker shopper learner tutor mentor coach trainee intern"
    " member holder owner pupil hire recruit newcomer inmate defendant motorist bettor gambler punter respondent"
    " enrollee enrolee critic judge".split()
) | set(
    "user customer member subscriber cardholder rider driver learner student patient employee merchant lead cook player"
    " reader viewer listener shopper buyer seller passenger guest client visitor agent applicant borrower tenant host"
    " advertiser gamer diner fan attendee traveler traveller creator developer doctor account holder owner homeowner"
    " policyholder donor freelancer worker professional household subscriber".split()
)
_EVENT_LABELS = {
    "churn": "churned", "default": "defaulted", "conversion": "converted", "cancellation": "cancelled",
    "renewal": "renewed", "attrition": "churned", "purchase": "purchased", "click": "clicked", "return": "returned",
    "upgrade": "upgraded", "signup": "signed_up", "delinquency": "delinquent", "readmission": "readmitted",
    "failure": "failed", "dropout": "dropped_out", "resignation": "resigned", "no-show": "no_show",
}  # fmt: skip
_VERB_NOUNS = {
    "convert": "conversion", "respond": "response", "churn": "churn", "default": "default", "cancel": "cancellation",
    "renew": "renewal", "buy": "purchase", "purchase": "purchase", "click": "click", "leave": "churn",
    "return": "return", "pay": "payment", "repay": "repayment", "attend": "attendance", "subscribe": "subscription",
    "apply": "application", "book": "booking", "drop": "dropout", "quit": "churn", "upgrade": "upgrade",
    "fail": "failure", "complete": "completion", "open": "open", "accept": "acceptance", "win": "win",
}  # fmt: skip
_NOT_IN_LABEL = set("next future total expected hourly daily weekly monthly quarterly yearly annual nightly".split())
_NOT_STATES = set("likely going able about also still not no the a an to be been being in on at of for by".split())
_FUNCTION_WORDS = set("of in on at for to from by with and or but as into per over under than each every".split())
_PHRASE_END = set("all such like including some any".split())
_PARTICLES = set("up out off away back over down".split())
_LIGHT_VERBS = set("go goes turn become get fall stay run come end sit stand lie".split())
_WORD = re.compile(r"[a-z0-9][a-z0-9-]*(?:'s)?", re.I)


_INVARIANT = set("species series news means data media sheep fish aircraft alumni people staff".split())


_IRREGULAR_PLURALS = {
    "loaves": "loaf", "leaves": "leaf", "knives": "knife", "wolves": "wolf", "shelves": "shelf", "lives": "life",
    "wives": "wife", "calves": "calf", "halves": "half", "thieves": "thief", "hooves": "hoof", "scarves": "scarf",
    "children": "child", "men": "man", "women": "woman", "mice": "mouse", "geese": "goose", "teeth": "tooth",
    "feet": "foot", "analyses": "analysis", "diagnoses": "diagnosis", "criteria": "criterion",
    "phenomena": "phenomenon",
}  # fmt: skip


def _singular(word: str) -> str:
    word = word.lower()
    if word in _INVARIANT:
        return word
    if word in _IRREGULAR_PLURALS:
        return _IRREGULAR_PLURALS[word]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def _stem(word: str) -> str:
    """Return the verb of an -ing form: failing -> fail, stopping -> stop, leaving -> leave."""
    stem = word.lower().removesuffix("ing")
    if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "ls":
        return stem[:-1]
    return stem + "e" if re.search(r"(?:[^aeiou][aeiou][vcz]|at|iz|us|rg|dg|[^aeiou]v)$", stem) else stem


def _is_person(word: str) -> bool:
    return _singular(word) in _PERSON


def _phrase(norm: str, start: int, size: int = 3) -> tuple[list[str], int]:
    """Return up to ``size`` content words from ``start`` (stopping at a stop word or punctuation), and their end."""
    words: list[str] = []
    end = start
    for m in _WORD.finditer(norm, start):
        if norm[end : m.start()].strip() or len(words) == size:
            break
        word = m.group().lower()
        if not words and word.endswith("ly") and len(word) > 4 and word not in ("supply", "family", "daily", "weekly"):
            end = m.end()  # "a newly listed house": an adverb before the noun phrase
            continue
        if words and word.endswith("ed") and word not in ("red", "bed", "need", "seed", "feed", "speed"):
            break
        if word in _STOP or word in _PHRASE_END or word.endswith("'s"):
            if words or (word not in ("a", "an", "the", "each", "every", "our", "their", "its") and "'" not in word):
                break
            end = m.end()
            continue
        words.append(word)
        end = m.end()
    return words, end


def _identifier(words: list[str]) -> str | None:
    name = re.sub(r"[^a-z0-9]+", "_", "_".join(words).lower()).strip("_")[:40].strip("_")
    if keyword.iskeyword(name) or name in ("id", "type", "class", "list", "dict", "object"):
        name = f"{name}_value"
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name or "-") or name.endswith("_id"):
        return None
    return None if name in ("event_time", "hour_of_day", "is_weekend", "label") else name


_NUMBER_WORDS = set("one two three four five six seven eight nine ten eleven twelve several many few multiple".split())


def _after(norm: str, pattern: str, size: int = 3) -> tuple[list[str], int, int] | None:
    """Return (content words, start, end) after the first match of ``pattern``, or None."""
    m = re.search(pattern, norm, re.I)
    if not m:
        return None
    words, end = _phrase(norm, m.end(), size)
    words = [w for w in words if w not in _NUMBER_WORDS and not w[0].isdigit()]
    return (words, m.start(), end) if words else None


# A shallow parse of the predicted clause ------------------------------------------------------
# "whether a tenant will pay rent late", "Is a weld defective?", "players who are cheating",
# "which invoices will be paid more than 30 days late": subject noun phrase, auxiliaries, verb
# (lemmatized) or the state after a copula, particle and adverb complements. The verb is told
# from the subject's nouns by a lexicon of common verbs, else by what follows it.

_STATES = set(
    "fake counterfeit fraudulent duplicate spam spammy toxic abusive defective faulty broken damaged anomalous"
    " suspicious risky bogus invalid misleading stolen illegal malicious offensive harmful delayed mislabeled"
    " mislabelled incorrect inaccurate unsafe outdated expired corrupt corrupted fraud forged plagiarised plagiarized"
    " duplicated sarcastic urgent".split()
)


def _is_state(word: str) -> bool:
    """Whether ``word`` is an adjective of state a detector decides ("counterfeit", "anomalous")."""
    return word in _STATES or (word.endswith(("ous", "ulent")) and len(word) > 5)


_VERBS = set(
    "accept achieve apply approve arrive attend award beat become begin break buy cancel catch change cheat"
    " choose churn click close come commit complete connect contain convert crash cross cut damage decline"
    " default deliver die drop earn end enroll enrol exceed exit expire fail fall finish follow fraud get give"
    " go graduate grow happen hit hold improve install join keep land last lapse launch leave like lose love"
    " make meet miss move need open outperform overrun pass pay perform pick place play produce publish purchase"
    " quit rain reach read receive recover redeem refer refund register reject relapse remain renew reoffend"
    " repay reply resign respond return run sell send settle show sign sink spend stay steal stop"
    " submit subscribe succeed survive switch take turn unsubscribe upgrade use vote want watch"
    " win withdraw write book rent borrow visit download donate complain invest travel carry".split()
)
_IRREGULAR = {
    "paid": "pay", "broke": "break", "broken": "break", "left": "leave", "sold": "sell", "bought": "buy",
    "went": "go", "gone": "go", "won": "win", "lost": "lose", "fell": "fall", "fallen": "fall", "got": "get",
    "gotten": "get", "came": "come", "made": "make", "took": "take", "taken": "take", "gave": "give",
    "given": "give", "ran": "run", "sent": "send", "spent": "spend", "stole": "steal", "stolen": "steal",
    "kept": "keep", "met": "meet", "held": "hold", "does": "do", "did": "do", "done": "do", "has": "have",
    "had": "have", "is": "be", "are": "be", "was": "be", "were": "be", "been": "be", "being": "be",
}  # fmt: skip
_DETERMINERS = set("a an the each every this that these those our their its his her any some your my".split())
_AUXILIARIES = set("will would shall should can could may might must do does did".split())
_COPULAS = set("be is are was were been being become becomes became get gets got stay stays remain remains".split())
_COMPLEMENTS = set("late early again online offline open closed viral sick ill".split())  # adverbs / adjectives
_BOUNDARY = (
    _FUNCTION_WORDS
    | _DETERMINERS
    | _PARTICLES
    | _COMPLEMENTS
    | set("before after within during until when while because if whether than that who which next".split())
)


def _lemma(word: str) -> str:
    """Return the base form of a verb: goes -> go, stays -> stay, cheating -> cheat, cancelled -> cancel."""
    word = word.lower()
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word in _VERBS:
        return word
    candidates = []
    if word.endswith("ing"):
        candidates.append(_stem(word))
        candidates.append(word[:-3])
    if word.endswith("ed"):
        candidates += [word[:-1], word[:-2], word[:-3] if len(word) > 5 and word[-3] == word[-4] else word[:-2]]
        candidates.append(word[:-3] + "y" if word.endswith("ied") else word[:-2])
    if word.endswith("s") and not word.endswith("ss"):
        candidates += [word[:-2] if word.endswith(("shes", "ches", "sses", "xes", "oes")) else word[:-1]]
        candidates.append(word[:-3] + "y" if word.endswith("ies") else word[:-1])
    for candidate in candidates:
        if candidate in _VERBS:
            return candidate
    return candidates[0] if candidates else word


def _is_verb(word: str) -> bool:
    return _lemma(word) in _VERBS


class Clause(NamedTuple):
    subject: list[str]  # the subject noun phrase's content words (the owner for "a stock's price")
    verb: str  # base form; "be" for a state
    state: list[str]  # the adjective, participle or phrase after a copula ("out of stock"), or []
    extra: list[str]  # particle and adverb complements ("up", "late")
    progressive: bool  # "are cheating", "is stealing"
    start: int
    end: int


_TOKEN = re.compile(r"[a-z0-9][a-z0-9-]*(?:'s)?|[^\sa-z0-9]", re.I)
_CLAUSE_CUES = re.compile(
    r"\b(?:whether|if)\s"
    r"|(?:^|[.?!:]\s+|\b(?:asks?|question)\W+)(?:will|would|is|are|does|do|can)\s(?=(?:a|an|the|this|each|my|our|any)\s)"
    r"|\b(?:probability|chance|likelihood|odds) (?:that|whether)\s"
    r"|\bwhich (?=(?:[a-z0-9,-]+ ){1,6}?(?:will|would|are|is)\b)"
    r"|\bwhen (?=(?:a|an|the|each|any) (?:[a-z-]+ ){1,3}(?:is|are) (?:likely|about|going) to\b)",
    re.I,
)
_RELATIVE = re.compile(  # not "reps which leads will turn": there "which" starts a question
    r"\b([a-z-]+s) (?:that|who|which(?!(?: [a-z-]+){1,2} (?:will|would|are|is|can|could|should|might|may)\b))"
    r" (?=[a-z]+\b)",
    re.I,
)
_INFINITIVE = set("will would shall should can could may might must do does did to".split())
_HEDGES = set("not likely going about able also still ever".split())


_HOW_MUCH = re.compile(
    r"\bhow (?:many|much|long)(?: [a-z-]+)?? (?:(will|would|does|do) )?(?=(?:a|an|the|each|every) )", re.I
)


def _clause(norm: str) -> Clause | None:
    """Return the parse of the first clause that states what is predicted, or None."""
    starts = [(m.end(), m.group().strip().lower(), m.start()) for m in _CLAUSE_CUES.finditer(norm)]
    starts += [(m.start(1), "relative", m.start()) for m in _RELATIVE.finditer(norm)]
    for position, cue, where in sorted(starts, key=lambda s: s[2]):
        last = cue.split()[-1]
        parsed = _parse_clause(norm, position, last if last in _INFINITIVE | _COPULAS else "", cue == "relative")
        if parsed:
            return parsed._replace(start=where)
    return None


_OBJECT_VERBS = set("need require develop contract leave give carry win lose receive make hit reach".split())
"""Verbs whose object says what the label is: "will need maintenance", not just "will need"."""


def _parse_clause(norm: str, position: int, inverted: str, relative: bool) -> Clause | None:
    tokens = [(m.group().lower(), m.start(), m.end()) for m in _TOKEN.finditer(norm, position)][:30]
    words = [t[0] for t in tokens] + [""]
    i = 0
    while (
        words[i] in _DETERMINERS
        or words[i] in _NUMBER_WORDS
        or words[i][:1].isdigit()
        or words[i] in ("of", "million", "thousand", "billion")
    ):
        i += 1  # "which of its 8 million subscribers"
    subject: list[str] = []
    owner = None
    while re.match(r"[a-z0-9]", words[i]) and len(subject) < 4:
        word = words[i]
        if word.endswith("'s"):  # "a stock's price goes up": the stock is what it is about
            owner, subject = word[:-2], []
            i += 1
            continue
        if word in _INFINITIVE or word in _COPULAS or word in _HEDGES or word in ("that", "who", "which"):
            break
        if word in _STOP and not _is_verb(word):
            break
        if subject and _is_verb(word) and not word.endswith("ing") and not subject[-1].endswith("ed"):
            break  # the verb ends the subject: "a patient misses" (not "a sensor reading", "a borrowed book")
        subject.append(word)
        i += 1
    if not subject and not owner:
        return None
    if not inverted and words[i].endswith("ed") and words[i + 1] in _FUNCTION_WORDS:
        skip = next((k for k in range(i + 2, min(i + 9, len(words))) if words[k] in _INFINITIVE | _COPULAS), None)
        if skip is not None:
            i = skip  # "a paper submitted to the conference will be accepted": a participle, not the verb
    if relative and words[i] in ("that", "who", "which"):
        i += 1
    elif not inverted and words[i] in _FUNCTION_WORDS:  # "machines on the shop floor will", "a batch of tablets is"
        skip = next((k for k in range(i, min(i + 7, len(words))) if words[k] in _INFINITIVE | _COPULAS), None)
        if skip is None:
            return None
        i = skip
    aux = [inverted] if inverted else []
    while words[i] in _INFINITIVE or words[i] in _COPULAS or words[i] in _HEDGES:
        aux.append(words[i])
        i += 1
    if inverted and len(subject) > 1 and aux == [inverted] and words[i] in _BOUNDARY | {"?", ".", ",", ""}:
        i -= 1  # "will a court case settle?", "is a weld defective?": the last word before a boundary is the verb
        subject = subject[:-1]
    verb_word = words[i]
    if not re.match(r"[a-z]", verb_word):
        return None
    k, end = i, tokens[i][2]
    state: list[str] = []
    progressive = False
    copula = next((a for a in reversed(aux) if a in _COPULAS or a == "to"), None)
    infinitive = bool(aux) and aux[-1] in _INFINITIVE
    if copula and copula != "to" and verb_word.endswith("ing") and _is_verb(verb_word):
        progressive, verb = True, _lemma(verb_word)
    elif copula and copula != "to" and not infinitive:
        # a state: "be out of stock", "is defective", "be damaged", "get sick", "at risk of failing"
        verb = _lemma(copula) if _lemma(copula) in ("become", "get", "stay", "remain") else "be"
        if verb_word in ("a", "an"):
            k += 1
        if words[k] == "at" and words[k + 1] == "risk" and words[k + 2] == "of" and words[k + 3].endswith("ing"):
            verb, k = _lemma(words[k + 3]), k + 3
        elif words[k] in ("out", "in", "off", "at") and words[k + 1] == "of" and re.match(r"[a-z]", words[k + 2]):
            state, k = [words[k], "of", words[k + 2]], k + 2
        else:
            state = [words[k]]
        if words[k] in _STOP or words[k] in _FUNCTION_WORDS:
            return None
        end = tokens[k][2]
    elif infinitive or _is_verb(verb_word) or (not aux and verb_word.endswith("s")):
        verb = _lemma(verb_word)
        if verb in ("be", "have", "do") or verb in _STOP and verb not in _VERBS:
            return None
        if words[k + 1] in ("a", "an") and "or" in words[k + 3 : k + 5]:  # "shows a counterfeit or a genuine bag"
            verb, state, k = "be", [words[k + 2]], k + 2
            end = tokens[k][2]
    else:
        return None
    extra: list[str] = []
    # particles and adverbs: right after the verb, or after its object or a measure ("30 days late")
    for step in range(k + 1, min(k + 9, len(words))):
        word = words[step]
        if step == k + 1 and not state and (word in _PARTICLES or (word.endswith("ed") and len(word) > 5)):
            extra.append(word)  # "drop out", "arrive damaged"
            end = tokens[step][2]
            if word not in _PARTICLES:
                break
        elif word in _COMPLEMENTS:
            extra.append(word)
            end = tokens[step][2]
            break
        elif not re.match(r"[a-z0-9]", word) or (word in _FUNCTION_WORDS and word != "than") or word in _DETERMINERS:
            break
    if verb in _OBJECT_VERBS and not state and not extra:
        extra, reached = _phrase(norm, end, 2)  # "need maintenance", "leave a bad review", "carrying contraband"
        end = reached if extra else end
    if verb in ("stay", "remain", "turn", "go", "become", "get", "sit", "stand", "lie") and not state and not extra:
        nxt = words[k + 1]
        if re.match(r"[a-z]", nxt) and nxt not in _BOUNDARY - _COMPLEMENTS:
            extra.append(nxt)
            end = tokens[k + 1][2]
    return Clause([owner] if owner else subject, verb, state, extra, progressive, position, end)


def _clause_label(clause: Clause) -> tuple[str, str]:
    """Return (label, name words) for a binary clause: will_churn, is_out_of_stock, paid_late, is_cheating."""
    if clause.state:
        state = "_".join(clause.state)
        if clause.verb == "be":
            if clause.extra:
                return f"{state}_{'_'.join(clause.extra)}", " ".join([*clause.state, *clause.extra])
            return f"is_{state}", " ".join(clause.state)
        return f"will_{clause.verb}_{state}", f"{clause.verb} {' '.join(clause.state)}"
    if clause.progressive:
        words = [_progressive(clause.verb), *clause.extra]
        return "is_" + "_".join(words), " ".join(clause.extra or words)
    words = [clause.verb, *clause.extra]
    if clause.verb in _OBJECT_VERBS and clause.extra:  # "need maintenance": the object names it
        return "will_" + "_".join(words), " ".join(clause.extra)
    return "will_" + "_".join(words), " ".join(words)


def _progressive(verb: str) -> str:
    if re.search(r"[^aeiou][aeiou][bdgmnpt]$", verb) and len(verb) <= 4:
        return verb + verb[-1] + "ing"
    return (verb[:-1] if verb.endswith("e") and not verb.endswith("ee") else verb) + "ing"


_CHOICE_NOUNS = {  # the label a choosing verb names when the prompt names no category noun
    "classif": "category", "categori": "category", "sort": "category", "triag": "category", "bucket": "category",
    "group": "group", "label": "category", "mark": "category", "grade": "grade", "assign": "category",
    "rout": "route", "direct": "route", "send": "route", "forward": "route", "split": "category",
    "divide": "category", "separat": "category",
}  # fmt: skip
_CHOICE = re.compile(
    r"\b(?P<verb>" + _CHOOSING_VERBS + r")\w* (?P<object>(?:(?!(?:as|into|to|among|between|such)\b)[\w'-]+ ){0,6}?)"
    r"(?:as|into|to|among|between) (?:either )?(?:an? )?"
    r"(?P<options>" + _OPTIONS + r")(?: (?P<after>[a-z-]+))?"
    r"|\b(?P<apart>tell apart|distinguish|differentiate|discriminate)(?: between| among)? (?:the )?"
    r"(?P<options2>" + _OPTIONS + r")(?: (?P<after2>[a-z-]+))?",
    re.I,
)
_NAMED_CHOICES = re.compile(
    _CATEGORY_NOUNS + r"|severit(?:y|ies)|urgency|sentiment|stages?|status|conditions?|risk", re.I
)


def _option_choice(norm: str) -> tuple[str, int, int, str, tuple[str, int, int] | None] | None:
    """Return (label, start, end, subject words, item) of a choice among listed options, or None.

    "Route customer emails to billing, support or sales": the label is what the options are
    ("... low, medium or high priority": priority), else the noun of the choosing verb (route);
    the item is what is chosen for (emails, or "ripe, unripe and overripe bananas").
    """
    m = _CHOICE.search(norm)
    if not m:
        return None
    after = (m["after"] or m["after2"] or "").lower()
    if after and _NAMED_CHOICES.fullmatch(after):
        label = _singular(after)
    else:
        stem = re.match(r"[a-z]+", (m["verb"] or "").lower())
        label = next((noun for verb, noun in _CHOICE_NOUNS.items() if stem and stem[0].startswith(verb)), "category")
    item, named = None, ""
    chosen = m["object"] or ""
    parts = re.split(r" (on|in|of|from|within|by|about|for|with) ", chosen, maxsplit=1, flags=re.I)
    named_after = bool(after and _NAMED_CHOICES.fullmatch(after))
    if len(parts) == 3:
        left, preposition, right = parts[0], parts[1].lower(), parts[2]
        if preposition in ("on", "in", "of", "from", "within"):  # "defects on steel sheets": the defect's class
            what = [w.lower() for w in left.split() if w.lower() not in _STOP]
            noun = _singular(what[-1]) if what else ""
            if noun and not named_after and noun not in _GENERIC | _PERSON | {"item", "object", "thing"}:
                label, named = noun, " ".join([*what[-2:-1], noun])
        else:  # "calls by urgency", "tweets about our brand": the item comes first
            chosen = left
            by = [w.lower() for w in right.split() if w.lower() not in _STOP]
            if preposition == "by" and by and not named_after and by[-1] not in _GENERIC:
                label = _singular(by[-1])
    if chosen:
        words = [w.lower() for w in chosen.split()]
        words = [w for w in words if w not in _STOP and w not in _NUMBER_WORDS and w not in ("incoming", "new", "all")]
        words = [w for w in words if "'" not in w]
        if words and _singular(words[-1]) not in _PERSON | _GENERIC | _TIME_WORDS:
            at = m.start("object") + chosen.lower().rfind(words[-1])
            item = (_singular(words[-1]), at, at + len(words[-1]))
            subject_words = named or " ".join([*words[:-1], _singular(words[-1])][-3:])
            return label, m.start(), m.end(), subject_words, item
    if m["apart"] and after.endswith("s") and not _NAMED_CHOICES.fullmatch(after):
        at = m.start("after2")
        item = (_singular(after), at, at + len(after))
        return label, m.start(), m.end(), _singular(after), item
    return label, m.start(), m.end(), label, item


_TAKES = re.compile(
    r"\bhow many (seconds|minutes|hours|days|weeks|months|years) (?:will|would|does|do|did) it take (?:to|for) "
    r"(?:(?:a|an|the|each|our|their) [a-z-]+ (?:to )?)?([a-z]+) (?:(?:a|an|the|each|every|their|its|our) )?"
    r"(?P<object>(?:[a-z-]+ ){0,2}[a-z-]+)",
    re.I,
)


def _label(norm: str, task: str) -> tuple[str, int, int, str] | None:
    """Return (label, start, end, subject words) for a custom task, or None when the text does not say."""
    if task == "binary_classification":
        if m := re.search(r"\bas (?:an? )?([a-z]+) or not\b", norm, re.I):
            return f"is_{m[1].lower()}", m.start(), m.end(), m[1].lower()
        if m := re.search(r"\bis (?:this|the|a|an) (?:[a-z-]+ ){1,3}?(?:a|an) ((?:[a-z]+ )?[a-z]+) or\b", norm, re.I):
            words = m[1].lower()
            return f"is_{words.replace(' ', '_')}", m.start(1), m.end(1), words
        if clause := _clause(norm):
            label, words = _clause_label(clause)
            return label, clause.start, clause.end, _VERB_NOUNS.get(words, words)
        chance = r"(?:probability|chance|likelihood|risk|odds) (?:that|of) (?:(?:a|an|the) )?(?:[a-z-]+ ){0,2}?"
        if m := re.search(chance + r"([a-z]+?)(?:s|ing)? (out|up|off|away|back)\b", norm, re.I):
            return f"will_{m[1].lower()}_{m[2].lower()}", m.start(), m.end(), f"{m[1].lower()} {m[2].lower()}"
        m = re.search(
            r"\b(?:will|would|should|(?:is|are) (?:likely|going|about) to|likely to"
            r"|likely (?:it|they|he|she|\w+) (?:is|are) to) (?:\w+ly )?(?:(be|become|get) )?"
            r"([a-z-]+)",
            norm,
            re.I,
        )
        question = re.search(
            r"\b(?:will|would) (?:a|an|the|this|each|our|their|any) (?:[a-z-]+ ){1,3}?(?:(be|become|get) )?([a-z-]+)\b",
            norm,
            re.I,
        )
        if question and (not m or question.start() <= m.start()) and question[2].lower() not in _NOT_VERBS:
            m = question
        risk = re.search(r"\b(?:at|high|the) risk of ([a-z]+ing)\b(?: ([a-z-]+)\b)?", norm, re.I)
        if risk and (not m or risk.start() < m.start()):
            verb, thing = _stem(risk[1]), (risk[2] or "").lower()
            if thing and thing not in _STOP | _FUNCTION_WORDS | _DETERMINERS and verb in ("develop", "get", "contract"):
                return f"will_{verb}_{thing}", risk.start(), risk.end(), thing  # "developing sepsis"
            return f"will_{verb}", risk.start(1), risk.end(1), _VERB_NOUNS.get(verb, verb)
        whose = re.search(
            r"\bwhose (?:[a-z-]+ ){1,2}(?:is|are|was|were|has been|have been) (?:reported |marked |flagged )?"
            r"([a-z]+)\b",
            norm,
            re.I,
        )
        if whose and (not m or whose.start() < m.start()) and whose[1].lower() not in _NOT_STATES:
            return f"is_{whose[1].lower()}", whose.start(1), whose.end(1), whose[1].lower()
        # "whether a reading is anomalous", "if an invoice is a duplicate": the state is the label
        state = re.search(
            r"\b(?:whether|if|where|in which|(?:detect|flag|spot|know|tell|alert|warn|notice)\w* when)"
            r" (?:[a-z'-]+ ){1,8}?(?:is|are|was|were|looks?|seems?|appears?|gets?|got)"
            r" (?:(?:likely|going) to be )?"
            r"(?:(?:a|an) )?([a-z-]+)\b",
            norm,
            re.I,
        )
        if state and (not m or state.start() < m.start()) and state[1].lower() not in _NOT_STATES:
            word = state[1].lower()
            return f"is_{word}", state.start(), state.end(), word
        if m and m[2].lower() not in _NOT_VERBS:
            verb = m[2].lower()
            if m[1]:
                return f"is_{verb}", m.start(), m.end(), verb
            if verb in _OBJECT_VERBS and (thing := _phrase(norm, m.end(), 2))[0]:  # "need maintenance"
                return f"will_{verb}_{'_'.join(thing[0])}", m.start(), thing[1], " ".join(thing[0])
            # the verb's particle or complement belongs to it: "sign up", "go viral", "arrive damaged"
            after = re.match(r" ([a-z-]+)\b", norm[m.end() :], re.I)
            extra = after[1].lower() if after else ""
            if extra in _PARTICLES or (
                extra not in _STOP
                and extra not in _NOT_VERBS
                and (verb in _LIGHT_VERBS or (extra.endswith("ed") and len(extra) > 4))
            ):
                end = m.end() + len(after[0])
                words = extra if verb in _LIGHT_VERBS else f"{verb} {extra}"
                return f"will_{verb}_{extra}", m.start(), end, words
            return f"will_{verb}", m.start(), m.end(), _VERB_NOUNS.get(verb, verb)
        # "the probability that a driver accepts a ride": the first verb after the subject
        chance_of = re.search(
            r"\b(?:probability|chance|likelihood|odds|risk) (?:that|whether) (?:a|an|the|each|this|our|their) "
            r"((?:[a-z-]+ ){1,4}?)([a-z]+s) (?:(?:a|an|the|their|its|our|his|her|to|for|on|in|within|before|after"
            r"|with|by)\b|[a-z]+ed\b|[.,;?]|$)",
            norm,
            re.I,
        )
        if chance_of and not m:
            verb = chance_of[2].lower()
            if verb in ("gets", "becomes", "goes") and (after := re.match(r" ([a-z]+ed)\b", norm[chance_of.end(2) :])):
                return f"is_{after[1].lower()}", chance_of.start(), chance_of.end(2) + len(after[0]), after[1].lower()
            verb = verb[:-2] if verb.endswith(("shes", "ches", "sses", "xes")) else verb[:-1]
            if verb not in _NOT_VERBS and verb not in _FUNCTION_WORDS:
                return f"will_{verb}", chance_of.start(), chance_of.end(2), _VERB_NOUNS.get(verb, verb)
        found = _after(norm, r"\b(?:predict|detect|flag|identify|spot|catch|forecast|anticipate)\w*\s", 3)
        if found:
            words, start, end = found
            if len(words) > 1 and _is_state(words[0]):  # "counterfeit listings": the listing is counterfeit
                return f"is_{words[0]}", start, end, words[0]
            noun = _singular(words[-1]) if words[-1] not in _EVENT_LABELS else words[-1]
            return _EVENT_LABELS.get(noun, f"is_{noun}"), start, end, " ".join(words)
        compound = (
            r"\b([a-z]+) (?:predictions?|prediction model|detection|detector|forecasts?|scores?|scoring|risk"
            r"|propensity|classifier)\b"
        )
        for m in re.finditer(compound, norm, re.I):
            noun = m[1].lower()
            if noun not in _STOP and noun not in _GENERIC and noun not in _TIME_WORDS:
                return _EVENT_LABELS.get(noun, f"is_{noun}"), m.start(), m.end(), noun
        return None
    if task == "regression":
        named = (  # "rate the readability of", "output the fuel it will burn"
            r"\b(?:rate|score|grade|measure|assess)\w* (?:the|its|their) ([a-z]+) of\b",
            r"\b(?:output|give|return|report|tell)\w* (?:me |us )?(?:the|a|an) ([a-z]+) "
            r"(?:it|they|he|she|each|the|a|an) (?:[a-z-]+ )?(?:will|would)\b",
        )
        for pattern in named:
            if (m := re.search(pattern, norm, re.I)) and m[1].lower() not in _STOP | _GENERIC:
                return m[1].lower(), m.start(1), m.end(1), m[1].lower()
        if m := re.search(r"\bwhat (" + _QUANTITIES + r")\b", norm, re.I):
            noun = m[1].lower()
            return noun, m.start(1), m.end(1), noun
        if m := re.search(
            r"\b(length|duration|rate|share|percentage) of (?:(?:a|an|the|their|its) )?([a-z]+)\b", norm, re.I
        ):
            if m[2].lower() not in _STOP and m[2].lower() not in _TIME_WORDS:
                words = [m[1].lower(), "of", m[2].lower()]
                return "_".join(words), m.start(), m.end(), " ".join(words)
        patterns = [
            (r"\bhow (?:many|much) ", ""),
            (r"\bwhat will (?:(?:the|a|an) )?", ""),
            (r"\b(?:number|count) of ", ""),
            (r"\btime (?:until|to|before) (?:(?:a|an|the) )?(?:[a-z]+'s )?", "time_to_"),
            (
                r"\b(?:predict|estimat|forecast|project|calculat|comput|work out|figure out)\w* "
                r"(?:(?:the|a|an|each|their|its|our|how|expected) )*",
                "",
            ),
        ]
        if (m := _TAKES.search(norm)) and m[2].lower() not in _STOP | _FUNCTION_WORDS:
            unit, verb = _singular(m[1]) + "s", _lemma(m[2])
            return f"{unit}_to_{verb}", m.start(), m.end(2), f"{verb} {unit}"
        m = re.search(r"\bhow long (?:a|an|the|each|every|their|our) (?:[a-z-]+ ){1,2}?will ([a-z]+)\b", norm, re.I)
        if m and m[1].lower() not in _STOP and m[1].lower() not in _FUNCTION_WORDS:
            verb = m[1].lower()
            return f"{verb}_duration", m.start(), m.end(), f"{verb} duration"
        if found := _after(norm, r"\bhow long (?:(?:will|does|do|it takes?|would) )?(?:(?:a|an|the) )?", 2):
            words, start, end = found
            inverted = re.match(r"\bhow long (?:will|does|do|would)\b", norm[start:], re.I)
            if inverted and len(words) > 1 and re.match(r"\s*[?!.,;:]", norm[end:]):
                words = words[:-1]  # "how long will each surgery last?": the last word is the verb
            words = words[-1:]  # the head noun: "a software build" takes a build duration
            return "_".join([*words, "duration"]), start, end, " ".join([*words, "duration"])
        # "how much each user will spend", "how much will each store sell": the verb is the quantity
        if m := re.search(
            r"\bhow (?:much|many) (?:(?:will|would|does|do) )?(?:each|a|an|the|every|our|their|this) (?:[a-z-]+ ){1,2}?"
            r"(?:will |would |is going to )?([a-z]+)\b",
            norm,
            re.I,
        ):
            verb = m[1].lower()
            if verb not in _FUNCTION_WORDS and verb not in _NOT_VERBS and not verb.endswith("s"):
                return verb, m.start(), m.end(), verb
        if m := re.search(r"\b(?:a|an|the|our|their) ((?:[a-z]+ )?[a-z]+) forecast\w*", norm, re.I):
            words = [w for w in m[1].lower().split() if w not in _STOP and w not in _GENERIC]
            if words:
                return "_".join(words), m.start(1), m.end(1), " ".join(words)
        for pattern, prefix in patterns:
            if (found := _after(norm, pattern, 3)) and not set(found[0]) & _GENERIC:
                words, start, end = found
                if prefix:
                    words = [prefix.rstrip("_"), *words]
                else:
                    words = [w for w in words if w not in _NOT_IN_LABEL] or words
                return "_".join(words), start, end, " ".join(words).replace("_", " ")
        if m := re.search(r"\b((?:[a-z]+ )?[a-z]+) forecasts\b", norm, re.I):  # "daily consumption forecasts"
            words = [w for w in m[1].lower().split() if w not in _STOP | _GENERIC | _NOT_IN_LABEL and not _is_verb(w)]
            if words:
                return "_".join(words), m.start(1), m.end(1), " ".join(words)
        return None
    if task == "multilabel":
        if m := re.search(
            r"\bwith (?:the|its|their) ((?:[a-z]+ )?[a-z]+s) (?:it|they) "
            r"|\bwhich ([a-z]+s) (?:a|an|the|each|every|this|appears?|occurs?|appl(?:y|ies)|are present) "
            r"|\b(?:identify|detect|list|find|extract|predict|tag)\w* (?:all )?(?:the |every )?([a-z]+s) (?:discussed"
            r"|mentioned|shown|present|covered|raised|depicted|visible)\b",
            norm,
            re.I,
        ):
            words = (m[1] or m[2] or m[3]).lower()
            return words.replace(" ", "_"), m.start(), m.end(), words
        if found := _after(norm, r"\ball (?:the )?(?:relevant |applicable |possible )?", 2):
            words, start, end = found
            plural = [i for i, w in enumerate(words) if w.endswith("s")]
            if plural:
                words = words[: plural[-1] + 1]
                return "_".join(words), start, end, " ".join(words)
        if m := re.search(
            r"\b(?:all (?:the )?|multiple |several |many |any number of )([a-z]+) (?:that apply|per|to each|for each)"
            r"|\bwith (?:all (?:the )?|every |each |any )([a-z]+)",
            norm,
            re.I,
        ):
            noun = (m[1] or m[2]).lower()
            noun = noun if noun.endswith("s") else f"{noun}s"
            return noun, m.start(), m.end(), noun
        return None
    if task == "multiclass":
        if choice := _option_choice(norm):
            return choice[:4]
        for pattern in (_OUT_OF, _SCALE):
            if (m := re.search(pattern, norm, re.I)) and (words := [w for w in m[1].lower().split() if w not in _STOP]):
                noun = _singular(words[-1])
                first = re.search(rf"\b{re.escape(noun)}", norm, re.I)  # "the breed of a dog ... breeds"
                return noun, *(first.span() if first else m.span(1)), noun
        if m := re.search(
            r"\b(?:classif|categori[sz]|sort|group|split)\w* ((?:[a-z-]+ ){1,3}?)by ([a-z]+)\b", norm, re.I
        ):
            noun = _singular(m[2])
            if noun in ("type", "kind", "class", "category", "group"):  # "tax documents by type": document_type
                noun = f"{_singular(m[1].split()[-1])}_{noun}"
            if noun not in _STOP and noun not in _NOT_STATES and not re.fullmatch(_QUANTITIES, noun):
                return noun, m.start(2), m.end(2), noun.replace("_", " ")
        if m := re.search(
            r"\b(?:classif|predict|detect|identify|determine|recogni[sz]|infer|tag|label)\w* (?:the|its|their|each) "
            r"([a-z-]+) (?:of|in|expressed|shown|conveyed|depicted|spoken|used)\b",
            norm,
            re.I,
        ):
            noun = _singular(m[1])
            if noun not in _STOP and noun not in _GENERIC and not re.fullmatch(_QUANTITIES, noun):
                return noun, m.start(1), m.end(1), noun
        if m := re.search(
            r"\bwhich of (?:the |these |our |its )?(?:[\d,]+ |\w+ )?((?:[a-z-]+ )?[a-z-]+s) (?:is|appears|does|fits"
            r"|matches|applies|belongs|best)\b",
            norm,
            re.I,
        ):
            words = [w for w in m[1].lower().split() if w not in _STOP and w not in _NUMBER_WORDS]
            if words:
                words[-1] = _singular(words[-1])
                return "_".join(words), m.start(1), m.end(1), " ".join(words)
        if m := re.search(
            r"\b(?:predict|detect|identify|determine|assign|infer|estimate|choose|pick|guess|recogni[sz]e)\w* "
            r"(?:the|a|an|its|their) (?:[a-z-]+'s )?((?:[a-z-]+ )?" + _CATEGORY_NOUNS + r")\b",
            norm,
            re.I,
        ):
            words = [w for w in m[1].lower().split() if w not in _STOP]
            words[-1] = _singular(words[-1])
            return "_".join(words), m.start(1), m.end(1), " ".join(words)
        which = re.search(r"\bwhich ([a-z]+)(?<!s) (?:is|does|do|should|will|would)\b", norm, re.I)
        m = re.search(r"\b((?:[a-z-]+ )?[a-z-]+): (?:\w+, )+\w+,? (?:and|or) \w+\b", norm, re.I)
        if which and (not m or which.start() < m.start()):  # the question asked first names the label
            return which[1].lower(), which.start(), which.end(), which[1].lower()
        if m:
            words = [w for w in m[1].lower().split() if w not in _STOP]
            if words:
                words[-1] = _singular(words[-1])
                return "_".join(words), m.start(1), m.end(1), " ".join(words)
        if m := re.search(r"\b(?:\w+, )+\w+,? (?:and|or) \w+ ([a-z]+)", norm, re.I):
            noun = _singular(m[1])
            if noun not in _STOP:
                return noun, m.start(), m.end(), noun
        for pattern in (r"\bone of ", r"\bwhich of ", r"\binto (?:several |many |multiple )?", r"\bwhich "):
            if found := _after(norm, pattern, 3):
                words, start, end = found
                return "_".join([*words[:-1], _singular(words[-1])]), start, end, " ".join(words)
        return None
    return None


def _prompt_entities(
    norm: str, exclude: frozenset[str] = frozenset(), after: int | None = None
) -> dict[str, tuple[str, int, int]]:
    """Return user_entity / item_entity -> (value, start, end): the thing acted on, ranked or recommended is
    the item; the first person noun that is not the item is the user. Words in ``exclude`` (the label's) are
    neither. ``after``: where the label was read; a noun the label is "of" or "in" after it is the item."""
    found: dict[str, tuple[str, int, int]] = {}
    item_patterns = [  # (pattern, the noun must be plural, a generic noun may be it, a person noun may be it)
        (r"\b(?:does|do|is|are|will|would|should|can|whether|if|how long) (?:a|an|the|this|each|every) ", False, False,
         False),
        (r"\b(?:a|an|the|this|each|every) (?=(?:[a-z-]+ ){1,3}?(?:will|would)\b)", False, False, False),
        (r"\bwhich (?=(?:[a-z-]+ ){1,3}?(?:will|would|should|are|is|can|might|may)\b)", False, False, False),
        (r"\bmatch\w* (?:[a-z-]+ ){1,2}(?:to|with) (?:(?:open|new|the|our|relevant|available) )*", False, True, False),
        # what is ranked, recommended or matched is the item, even people ("rank job candidates")
        (r"\b(?:recommend|suggest|rank|order|sort|prioriti[sz])\w* (?:(?:all|incoming|new|the|our|other|relevant) )*",
         True, True, True),
        (r"\b(?:classif|categori[sz]|sorts? |route|score|flag|tag|triage|moderat|filter|match|review|screen|label"
         r"|assign|allocat|dispatch|forward"
         r"|detect|identify|spot|catch|find)\w* (?:(?:all|incoming|new|the|our) )*", True, False, False),
        (r"\b(?:each|every|all) of (?:our|the|their|its|these|those) (?:[\d,.]+[kmb]? )?", True, True, False),
        (r"\bwhich of (?:our|the|their|its|these|those|your) ", True, True, False),
        (r"\b(?:will|would|does|do|did) (?:a|an|the|each|this) [a-z-]+ [a-z]+ (?:a|an|the|their|its|this) ", False,
         False, False),
        (r"\b(?:until|before|till) (?:a|an|the|each|their|its) ", False, False, False),
        (r"\b(?:a|an|the|each|every) (?=[a-z-]+ (?:belongs?|fits?|falls?) (?:to|in|into|under)\b)", False, False,
         False),
        (r"\b(?:each|every) ", False, True, False),
        (r"\bper ", False, False, False),
        (r"\b(?:price|value|cost|category|categories|severity|demand|sales|popularity) of (?:(?:a|an|the|each"
         r"|every) )?", False, False, False),
        # the object of the predicted verb ("will cancel their booking"), then what the label is of or in
        (r"\b(?:will|would) [a-z]+ (?:their|the|its|his|her|a|an) ", False, False, False),
    ]  # fmt: skip
    anchored = len(item_patterns)  # the patterns from here on are read from where the label was read
    if after is not None:
        item_patterns.append((r"\b(?:of|in|for|to) (?:a|an|each|every) ", False, False, False))
    for index, (pattern, plural, generic, person) in enumerate(item_patterns):
        for m in re.compile(pattern, re.I).finditer(norm, after if index >= anchored and after is not None else 0):
            words, end = _phrase(norm, m.end(), 3)
            words = [w for w in words if not w[0].isdigit() and w not in ("used", "new", "old", "second-hand")]
            words = [w for w in words if w not in _NUMBER_WORDS and not w.endswith("ly")]
            cut = [
                i
                for i, w in enumerate(words)
                if i and (w in _NOT_IN_LABEL or _singular(w) in _TIME_WORDS or w == "this")
            ]
            words = words[: cut[0]] if cut else words  # "their membership next month"
            if (
                len(words) > 1
                and re.match(r"(?:will|would|does|do|did|should|can) ", m.group(), re.I)
                and (re.match(r"\s*[?!.,;:]", norm[end:]))
            ):
                words = words[:-1]  # "will each surgery last?": the last word is the verb
            elif (
                len(words) > 1
                and _lemma(words[-1]) in _VERBS
                and words[-1] not in _PERSON
                and (words[-1].endswith("s") or re.match(r"(?:will|would|does|do|did) ", m.group(), re.I))
            ):
                words = words[:-1]  # "a user give", "a newly listed house sells": the verb ends the noun phrase
            if len(words) > 2 and words[-1] in _PARTICLES:
                words = words[:-2]  # "will a passenger show up": a verb and its particle
            if not words or (plural and not words[-1].endswith("s")):
                continue
            noun = _singular(words[-1])
            quantity = re.fullmatch(_QUANTITIES, noun)
            if (
                noun in _TIME_WORDS
                or noun in _STOP
                or noun in exclude
                or (noun in _PERSON and not person)
                or quantity
                or (noun in _GENERIC and not generic)
            ):
                continue
            found["item_entity"] = (noun, m.start(), end)
            break
        if "item_entity" in found:
            break
    fallbacks = (  # "Transactions are labelled by accountants", "a machine's next breakdown"
        r"\b([a-z-]+s) (?:are|is|get|gets) (?:manually |currently |now )?(?:labell?ed|classified|sorted|tagged|routed"
        r"|assigned|categori[sz]ed|graded|triaged|scored|reviewed|flagged)\b",
        r"\b(?:a|an|the|each|every) ([a-z-]+)'s\b",
    )
    for pattern in fallbacks:
        m = None if "item_entity" in found else re.search(pattern, norm, re.I)
        if m and (noun := _singular(m[1])) not in _STOP | _PERSON | _GENERIC | _TIME_WORDS | exclude:
            found["item_entity"] = (noun, m.start(1), m.end(1))
    item = found.get("item_entity", ("",))[0]
    # whoever things are recommended or shown to is the user ("recommend papers to researchers")
    if m := re.search(
        r"\b(?:recommend|suggest|show|offer|surface)\w* (?:[\w-]+ ){1,4}?to (?:(?:the|our|each|every|their) )?"
        r"(?:[a-z-]+ )?([a-z-]+s)\b",
        norm,
        re.I,
    ):
        noun = _singular(m[1])
        if noun != item and noun not in exclude and noun not in _STOP and noun not in _TIME_WORDS:
            found["user_entity"] = (noun, m.start(1), m.end(1))
            return found
    for m in re.finditer(r"[a-z][a-z-]*", norm, re.I):
        noun = _singular(m.group())
        if noun in _PERSON and noun != item and noun not in exclude:
            found["user_entity"] = (noun, m.start(), m.end())
            break
    return found


_TASK_NAMES = {
    "binary_classification": "Prediction", "regression": "Prediction", "multiclass": "Classification",
    "multilabel": "Tagging", "ranking": "Ranking", "retrieval": "Recommendation",
}  # fmt: skip


def _title(words: str) -> str:
    return " ".join(w if w.isupper() else w.capitalize() for w in words.replace("_", " ").replace("-", " ").split())


def _project_name(subject: str, task: str, norm: str) -> str | None:
    suffix = _TASK_NAMES[task]
    if task == "regression" and re.search(
        r"forecast|tomorrow|\bnext (?:hour|day|week|month|quarter|year)|expect", norm, re.I
    ):
        suffix = "Forecasting"
    words = [*_title(subject).split(), suffix, "Service"]
    words = [w for i, w in enumerate(words) if not i or _singular(w) != _singular(words[i - 1])]
    while words:
        name = " ".join(words)
        if len(re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")) <= 40:
            return name
        words = words[1:] if len(words) > 3 else words[:-1]
    return None


def subject(text: str, task: str) -> list[Inference]:
    """Return label, entity and project-name inferences for a custom design of ``task``."""
    norm = text.translate(_NORMALIZE)
    out: list[Inference] = []
    label = _label(norm, task)
    exclude = frozenset()
    if label and (task != "binary_classification" or label[0].startswith("is_")):
        exclude = frozenset({_singular(label[0].removeprefix("is_").split("_")[-1])})  # the head noun of the label
    entities = _prompt_entities(norm, exclude, label[1] if label else None)
    if task == "multiclass" and (choice := _option_choice(norm)) and choice[4]:
        entities["item_entity"] = choice[4]
    if task == "regression" and (m := _TAKES.search(norm)):
        words = [w for w in m["object"].lower().split() if w not in _STOP]
        while words and (
            words[-1] in _TIME_WORDS or words[-1] in ("once", "again", "first") or words[-1].endswith("ly")
        ):
            words = words[:-1]
        noun = _singular(words[-1]) if words else ""
        if noun and noun not in _PERSON | _GENERIC | _TIME_WORDS:
            at = m.start("object") + m["object"].lower().rfind(words[-1])
            entities["item_entity"] = (noun, at, at + len(words[-1]))
    clause = _clause(norm) if task == "binary_classification" else None
    if task == "regression" and (m := _HOW_MUCH.search(norm)):
        clause = _parse_clause(norm, m.end(), (m[1] or "").lower(), False)
    if clause and (head := _singular(clause.subject[-1])) not in _STOP | _GENERIC | _TIME_WORDS | exclude:
        key = "user_entity" if _is_person(head) else "item_entity"  # the clause's subject is what it is about
        at = norm.lower().find(clause.subject[-1], clause.start)
        entities[key] = (head, at, at + len(clause.subject[-1]))
        if key == "item_entity" and entities.get("user_entity", ("",))[0] == head:
            entities.pop("user_entity")
    for key, (value, start, end) in entities.items():
        if value not in ("user", "item") and _identifier([value]):
            out.append(Inference(key, value, text[start:end], f"subject:{key}"))
    taken = {inf.value for inf in out}
    if label and (name := _identifier([label[0]])) and name not in taken:
        out.append(Inference("label", name, text[label[1] : label[2]], "subject:label"))
    if label:
        words, start, end = label[3], label[1], label[2]
    elif task in ("retrieval", "ranking") and "item_entity" in entities:
        words, start, end = entities["item_entity"]
    else:
        return out
    if task in ("binary_classification",) and "user_entity" in entities and entities["user_entity"][0] != "user":
        words = f"{entities['user_entity'][0]} {words}"
    if task == "binary_classification" and label and label[0].startswith("is_") and "item_entity" in entities:
        words = f"{entities['item_entity'][0]} {words}"
    if name := _project_name(words, task, norm):
        out.append(Inference("project_name", name, text[start:end], "subject:name"))
    return out


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
