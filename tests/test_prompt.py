"""Prompt understanding: interview prompts in, valid bank answers with evidence out."""

from __future__ import annotations

import pytest

from mlsd import engine, prompt
from mlsd.prompt import Inference, as_answers, infer
from mlsd.spec import presets
from mlsd.spec import spec as load_spec

M, B = 1_000_000, 1_000_000_000

# (id, prompt, expected answers, keys that must not be inferred)
CASES = [
    (
        "ad-click-example",
        "Design an ad click prediction system for a social network with 300M DAU; predictions must return in 50 ms; "
        "advertisers upload new ads hourly",
        {
            "use_case": "ad-click-prediction",
            "daily_active_users": 300 * M,
            "latency_budget_ms": 50,
            "feature_freshness": "hourly",
            "prediction_mode": "online",
        },
        ("ml_task", "events_per_day", "num_items"),
    ),
    (
        "fraud-per-second",
        "Build a fraud detection model for card payments: 10k transactions per second, decisions within 0.2 seconds, "
        "real-time features.",
        {
            "use_case": "fraud-detection",
            "events_per_day": 864 * M,
            "latency_budget_ms": 200,
            "feature_freshness": "seconds",
            "prediction_mode": "online",
        },
        ("peak_qps", "daily_active_users"),
    ),
    (
        "pymk-no-realtime",
        "Design People You May Know for a professional network with 1B users and 300M daily active users. There is "
        "no real-time requirement; suggestions can be precomputed.",
        {"use_case": "people-you-may-know", "daily_active_users": 300 * M, "prediction_mode": "batch"},
        ("latency_budget_ms", "experiment", "peak_qps"),
    ),
    (
        "video-rec-homepage",
        "Recommend videos on the YouTube homepage. 2B daily users, each user refreshes 5 times a day, 10B videos, "
        "p99 < 200ms.",
        {
            "use_case": "video-recommendation",
            "daily_active_users": 2 * B,
            "requests_per_user_per_day": 5,
            "num_items": 10 * B,
            "latency_budget_ms": 200,
            "prediction_mode": "online",
        },
        ("events_per_day",),
    ),
    (
        "news-feed",
        "Design a personalized news feed: 2 billion DAU, users open the feed twice a day, the feed must load in under "
        "200 milliseconds, and we A/B test every change.",
        {
            "use_case": "personalized-news-feed",
            "daily_active_users": 2 * B,
            "requests_per_user_per_day": 2,
            "latency_budget_ms": 200,
            "experiment": "ab",
            "prediction_mode": "online",
        },
        ("ml_task",),
    ),
    (
        "timeline-day-old",
        "Design the Twitter home timeline; features can be a day old.",
        {"use_case": "personalized-news-feed", "feature_freshness": "daily"},
        ("ml_task", "prediction_mode", "latency_budget_ms"),
    ),
    (
        "friend-suggestions-batch",
        "Build friend suggestions for a small social app with 1.5k DAU; scoring runs as an offline batch job once a "
        "day.",
        {
            "use_case": "people-you-may-know",
            "daily_active_users": 1500,
            "prediction_mode": "batch",
            "feature_freshness": "daily",
        },
        ("latency_budget_ms",),
    ),
    (
        "search-results-rps",
        "Rank search results for an e-commerce site at 20,000 rps with a 150 ms budget; catalog of 5M products.",
        {"use_case": "search-ranking", "peak_qps": 20_000, "latency_budget_ms": 150, "num_items": 5 * M},
        ("ml_task", "daily_active_users"),
    ),
    (
        "eta-delivery-month",
        "Predict the delivery time for food orders; the model must respond in 10ms; 500M orders per month.",
        {
            "use_case": "eta-prediction",
            "latency_budget_ms": 10,
            "events_per_day": 16_666_667,
            "prediction_mode": "online",
        },
        ("num_items",),
    ),
    (
        "eta-regression-minutes",
        "Estimate the arrival time of rides as a regression problem, with traffic features updated every few minutes.",
        {"use_case": "eta-prediction", "ml_task": "regression", "feature_freshness": "minutes"},
        ("latency_budget_ms", "prediction_mode"),
    ),
    (
        "similar-listings",
        "Show similar listings on a vacation rental site with 5 million listings and 100 ms latency.",
        {"use_case": "similar-listings", "num_items": 5 * M, "latency_budget_ms": 100},
        ("daily_active_users",),
    ),
    (
        "similar-homes",
        "Suggest similar homes while a guest browses.",
        {"use_case": "similar-listings"},
        ("num_items", "prediction_mode"),
    ),
    (
        "event-rec-month",
        "Event recommendation for a ticketing platform with 1M DAU and 1M events per month; near real-time features.",
        {
            "use_case": "event-recommendation",
            "daily_active_users": 1 * M,
            "events_per_day": 33_333,
            "feature_freshness": "minutes",
        },
        ("prediction_mode", "latency_budget_ms"),
    ),
    (
        "harmful-multilabel-shadow",
        "Detect harmful content such as hate speech or nudity: 500M posts per day, a multi-label classifier, and a "
        "shadow deployment before launch.",
        {
            "use_case": "harmful-content-detection",
            "events_per_day": 500 * M,
            "ml_task": "multilabel",
            "experiment": "shadow",
        },
        ("num_items",),
    ),
    (
        "moderation-not-latency-sensitive",
        "A content moderation pipeline that runs in nightly batches; it is not latency sensitive and there is no A/B "
        "testing.",
        {
            "use_case": "harmful-content-detection",
            "prediction_mode": "batch",
            "feature_freshness": "daily",
            "experiment": "none",
        },
        ("latency_budget_ms",),
    ),
    (
        "visual-search-pinterest",
        "Pinterest-style visual search over 100B images; results within 200ms.",
        {"use_case": "visual-search", "num_items": 100 * B, "latency_budget_ms": 200},
        ("events_per_day",),
    ),
    (
        "image-search",
        "Image search: find similar images for an uploaded photo.",
        {"use_case": "visual-search"},
        ("num_items",),
    ),
    (
        "video-search-gdpr",
        "Design video search for a platform with 1B videos and a 200 ms latency target; GDPR applies.",
        {"use_case": "youtube-video-search", "num_items": 1 * B, "latency_budget_ms": 200, "contains_pii": True},
        (),
    ),
    (
        "street-view-offline",
        "Blur faces and licence plates in Street View imagery; everything is processed offline.",
        {"use_case": "street-view-blurring", "prediction_mode": "batch"},
        ("latency_budget_ms", "experiment"),
    ),
    (
        "rag-chatbot",
        "Build a chatbot over company documents: question answering over 2 million documents, answers within 3 "
        "seconds.",
        {"use_case": "rag-assistant", "num_items": 2 * M, "latency_budget_ms": 3000, "prediction_mode": "online"},
        ("feature_freshness",),
    ),
    (
        "rag-acronym-pii",
        "A RAG assistant for the internal wiki with 50k DAU; the wiki holds PII.",
        {"use_case": "rag-assistant", "daily_active_users": 50_000, "contains_pii": True},
        (),
    ),
    ("nothing-chitchat", "Tell me about yourself.", {}, ("use_case", "prediction_mode", "contains_pii")),
    ("nothing-generic", "Design a system.", {}, ("use_case", "ml_task", "latency_budget_ms")),
    ("mau-is-not-dau", "We have 1B monthly active users.", {}, ("daily_active_users", "use_case")),
    (
        "realtime-alone",
        "Design a real-time fraud scoring service.",
        {"use_case": "fraud-detection", "prediction_mode": "online"},
        ("latency_budget_ms", "feature_freshness"),
    ),
    (
        "does-not-need-realtime",
        "The fraud model does not need to be real-time; a daily batch is fine.",
        {"use_case": "fraud-detection", "prediction_mode": "batch", "feature_freshness": "daily"},
        ("latency_budget_ms",),
    ),
    (
        "no-batch",
        "No batch: every score is computed per request within 50 ms.",
        {"prediction_mode": "online", "latency_budget_ms": 50},
        (),
    ),
    (
        "hybrid-precomputed",
        "Precomputed candidates are scored online at request time.",
        {"prediction_mode": "hybrid"},
        ("latency_budget_ms",),
    ),
    (
        "hybrid-from-both-cues",
        "Candidates come from a nightly job; the ranker must respond in 80 ms.",
        {"prediction_mode": "hybrid", "latency_budget_ms": 80, "feature_freshness": "daily"},
        (),
    ),
    (
        "dau-words",
        "The app has 300 million daily active users.",
        {"daily_active_users": 300 * M},
        ("num_items",),
    ),
    ("dau-commas", "About 10,000 users a day visit the site.", {"daily_active_users": 10_000}, ("num_items",)),
    (
        "per-user-requests",
        "2.5M daily active users and 40 requests per user per day.",
        {"daily_active_users": 2_500_000, "requests_per_user_per_day": 40},
        (),
    ),
    ("events-bn-daily", "We serve 3 bn impressions daily.", {"events_per_day": 3 * B}, ("feature_freshness",)),
    ("events-per-hour", "We log 2M clicks per hour.", {"events_per_day": 48 * M}, ("feature_freshness",)),
    (
        "qps-per-second",
        "Traffic peaks at 100K requests per second.",
        {"peak_qps": 100_000},
        ("events_per_day",),
    ),
    ("qps-of", "Expect a peak QPS of 1.2M.", {"peak_qps": 1_200_000}, ()),
    (
        "sub-second",
        "Responses must be sub-second.",
        {"latency_budget_ms": 1000, "prediction_mode": "online"},
        (),
    ),
    ("latency-seconds-decimal", "p99 latency under 1.5 s.", {"latency_budget_ms": 1500}, ()),
    ("hourly-features", "Features are refreshed every hour.", {"feature_freshness": "hourly"}, ()),
    (
        "streaming-kafka",
        "Use streaming features from Kafka.",
        {"feature_freshness": "seconds", "stream_engine": "kafka"},
        (),
    ),
    (
        "fresh-seconds-vs-latency",
        "Features must be updated within 30 seconds and inference must take under 40ms.",
        {"feature_freshness": "seconds", "latency_budget_ms": 40},
        (),
    ),
    ("anonymized", "The dataset is anonymized and has no personal data.", {"contains_pii": False}, ()),
    ("emails-phones", "Inputs include emails and phone numbers.", {"contains_pii": True}, ()),
    ("no-pii", "There is no PII in the logs.", {"contains_pii": False}, ()),
    ("split-test", "Validate the new model with a split test.", {"experiment": "ab"}, ()),
    ("no-experiments", "No experiments are possible; ship directly.", {"experiment": "none"}, ()),
    ("shadow-mode", "Run the new model in shadow mode before launch.", {"experiment": "shadow"}, ()),
    (
        "batch-drops-experiment",
        "A weekly batch job scores all users offline; we A/B test the landing page.",
        {"prediction_mode": "batch"},
        ("experiment", "latency_budget_ms"),
    ),
    (
        "tools",
        "Train with LightGBM, serve over gRPC and a REST API, orchestrate with Airflow, track models in MLflow, "
        "deploy on k8s, keep features in Feast and run ETL on Spark.",
        {
            "trainer": "lightgbm",
            "serving": "rest+grpc",
            "orchestrator": "airflow",
            "registry": "mlflow",
            "deploy": "kubernetes",
            "feature_store": "feast",
            "batch_engine": "spark",
        },
        ("prediction_mode",),
    ),
    ("later-trainer-wins", "Start with an XGBoost baseline, then move to PyTorch.", {"trainer": "pytorch"}, ()),
    (
        "binary-click",
        "Frame it as a binary classifier predicting whether a user clicks an ad.",
        {"use_case": "ad-click-prediction", "ml_task": "binary_classification"},
        (),
    ),
    (
        "retrieve-then-rank",
        "First retrieve candidates with a two-tower model, then rank them.",
        {"ml_task": "retrieval"},
        (),
    ),
    (
        "ranking-override",
        "Treat similar listings as a learning-to-rank problem.",
        {"use_case": "similar-listings", "ml_task": "ranking"},
        (),
    ),
    (
        "multiclass",
        "Classify each image into one of 20 categories.",
        {"ml_task": "multiclass"},
        ("use_case",),
    ),
    ("ctr-weak-hint", "Maximize CTR for our sponsored posts.", {"use_case": "ad-click-prediction"}, ()),
    (
        "strong-beats-ctr",
        "Maximize CTR when we recommend videos to viewers.",
        {"use_case": "video-recommendation"},
        (),
    ),
    ("chargebacks", "Reduce chargebacks on an online marketplace.", {"use_case": "fraud-detection"}, ()),
    (
        "dau-of",
        "DAU of 50M and 2B events per day.",
        {"daily_active_users": 50 * M, "events_per_day": 2 * B},
        ("num_items",),
    ),
    (
        "uploads-are-events",
        "Users upload 10M videos per day.",
        {"events_per_day": 10 * M},
        ("num_items", "requests_per_user_per_day"),
    ),
    (
        "kafka-needs-fresh-features",
        "Events flow through Kafka and features can be a day old.",
        {"feature_freshness": "daily"},
        ("stream_engine",),
    ),
    (
        "trillion-per-year",
        "The platform records 1 trillion events per year.",
        {"events_per_day": 2_739_726_027},
        (),
    ),
    (
        "searches-per-user",
        "Each user makes 20 searches per day on the product search page.",
        {"use_case": "search-ranking", "requests_per_user_per_day": 20},
        ("events_per_day",),
    ),
    (
        "rank-the-timeline",
        "Rank the home timeline for 500M DAU.",
        {"use_case": "personalized-news-feed", "daily_active_users": 500 * M},
        ("ml_task",),
    ),
    ("project-timeline-is-not-a-feed", "The project timeline is 3 months.", {}, ("use_case",)),
    ("qps-slash-s", "Traffic is 1M requests/s at peak.", {"peak_qps": 1 * M}, ("events_per_day",)),
    (
        "unicode-dashes",
        "Scoring doesn\u2019t need to be real\u2011time.",
        {"prediction_mode": "batch"},
        ("latency_budget_ms",),
    ),
    # a task stated outright that a preset's model does not do counts against that preset
    (
        "stated-task-beats-a-domain-word",
        "Build a model that tells whether a tweet is sarcastic or sincere.",
        {"ml_task": "binary_classification", "label": "is_sarcastic", "item_entity": "tweet"},
        ("use_case",),
    ),
    (
        "stated-classes-beat-a-photo",
        "Identify which of 300 plant species appears in a hiker's photo.",
        {"ml_task": "multiclass", "label": "plant_species", "item_entity": "photo"},
        ("use_case",),
    ),
    # counts are read by what they count, for any noun
    ("things-per-day-are-events", "An airline running 2,500 flights a day.", {"events_per_day": 2500}, ()),
    (
        "people-per-day-are-users",
        "5 million residents open the city app each day.",
        {"daily_active_users": 5 * M},
        ("events_per_day",),
    ),
    ("a-large-count-is-the-catalogue", "Answer questions over 2 million contracts.", {"num_items": 2 * M}, ()),
    (
        "a-small-count-is-not-a-catalogue",
        "Route tickets to one of 7 warehouses.",
        {"ml_task": "multiclass", "label": "warehouse"},
        ("num_items",),
    ),
    # the subject: the acting person, the thing acted on, what is predicted
    (
        "ranked-people-are-items",
        "Rank the sales leads in each rep's queue so reps call the most promising ones first.",
        {"ml_task": "ranking", "item_entity": "lead", "user_entity": "rep"},
        (),
    ),
    (
        "recipient-of-recommendations-is-the-user",
        "Recommend scientific papers to researchers from a corpus of 10 million papers.",
        {"ml_task": "retrieval", "item_entity": "paper", "user_entity": "researcher", "num_items": 10 * M},
        (),
    ),
    (
        "verb-complement-in-label",
        "Predict whether a news article will go viral in its first day.",
        {"label": "will_go_viral", "item_entity": "article"},
        (),
    ),
    (
        "state-after-whether",
        "Detect whether a sensor reading from a wind turbine is anomalous.",
        {"label": "is_anomalous"},
        (),
    ),
    (
        "how-much-will-they-verb",
        "Predict how much each user will spend in our mobile game over their first 30 days.",
        {"ml_task": "regression", "label": "spend"},
        (),
    ),
    (
        "all-relevant-is-multilabel",
        "Assign every support ticket all relevant product areas.",
        {"ml_task": "multilabel", "label": "product_areas", "item_entity": "ticket"},
        (),
    ),
    ("youtube-search-is-video-search", "Design YouTube search.", {"use_case": "youtube-video-search"}, ()),
    (
        "options-listed-are-classes",
        "Sort incoming insurance letters into complaints, claims, renewals or address changes.",
        {"ml_task": "multiclass", "label": "category", "item_entity": "letter"},
        (),
    ),
    (
        "named-options-give-the-label",
        "Classify each pothole report as low, medium or high severity.",
        {"ml_task": "multiclass", "label": "severity", "item_entity": "report"},
        (),
    ),
    (
        "what-is-classified-on-the-item",
        "Classify cracks on concrete bridges into hairline, structural or cosmetic.",
        {"ml_task": "multiclass", "label": "crack", "item_entity": "bridge"},
        (),
    ),
    (
        "told-apart-options",
        "Tell apart fresh, stale and mouldy loaves on the bakery conveyor.",
        {"ml_task": "multiclass", "item_entity": "loaf"},
        (),
    ),
    (
        "out-of-n-classes",
        "Recognise the bird species in a garden camera photo, out of 200 species.",
        {"ml_task": "multiclass", "label": "species"},
        (),
    ),
    (
        "graded-on-a-scale",
        "Grade bruising on apples on a four-level damage scale.",
        {"ml_task": "multiclass", "label": "damage"},
        (),
    ),
    (
        "can-be-in-several",
        "Decide which cuisines a recipe belongs to; a recipe can be in several.",
        {"ml_task": "multilabel", "label": "cuisines", "item_entity": "recipe"},
        (),
    ),
    (
        "a-detected-state",
        "Catch plagiarised essays submitted to the portal.",
        {"label": "is_plagiarised", "item_entity": "essay"},
        (),
    ),
    (
        "how-many-hours-it-takes-to",
        "How many days will it take to approve a mortgage application?",
        {"ml_task": "regression", "label": "days_to_approve", "item_entity": "application"},
        (),
    ),
    (
        "what-quantity-will",
        "What score out of 10 will a critic give a new restaurant?",
        {"ml_task": "regression", "label": "score", "item_entity": "restaurant"},
        (),
    ),
    (
        "the-object-names-what-is-needed",
        "Which boilers are likely to need repairs before winter?",
        {"label": "will_need_repairs", "item_entity": "boiler"},
        (),
    ),
    (
        "a-participle-is-not-the-verb",
        "Decide whether a grant proposal submitted to the foundation will be funded.",
        {"label": "is_funded", "item_entity": "proposal"},
        (),
    ),
    (
        "which-starts-a-question-after-a-noun",
        "Tell our account managers which clients will renew their contract.",
        {"label": "will_renew", "user_entity": "client"},
        (),
    ),
    (
        "covers-several-is-multilabel",
        "Identify the issues raised in each town hall comment; a comment often raises several.",
        {"ml_task": "multilabel", "label": "issues", "item_entity": "comment"},
        (),
    ),
    (
        "chosen-from-n-classes",
        "Pick the right product category for each new listing, chosen from about 5,000 categories.",
        {"ml_task": "multiclass", "label": "category", "item_entity": "listing"},
        (),
    ),
    (
        "a-unit-makes-it-regression",
        "Given a cargo ship's route, output the water it will use on the crossing in litres.",
        {"ml_task": "regression", "label": "water"},
        (),
    ),
    (
        "sorted-by-names-the-label",
        "Sort incoming bug tickets by severity into blocker, major, minor or trivial.",
        {"ml_task": "multiclass", "label": "severity", "item_entity": "ticket"},
        (),
    ),
    (
        "classified-about-keeps-the-item",
        "Classify forum posts about our game as bug, suggestion, praise or off-topic.",
        {"ml_task": "multiclass", "item_entity": "post"},
        (),
    ),
    (
        "passive-subject-is-the-item",
        "Invoices are classified by clerks into 30 cost centres; automate it.",
        {"ml_task": "multiclass", "label": "centre", "item_entity": "invoice"},
        (),
    ),
    (
        "several-can-appear",
        "List which birds appear in each feeder photo; several can appear at once.",
        {"ml_task": "multilabel", "label": "birds", "item_entity": "photo"},
        (),
    ),
    (
        "sit-idle-is-the-state",
        "Find the delivery vans that will sit idle tomorrow.",
        {"label": "will_sit_idle", "item_entity": "van"},
        (),
    ),
    (
        "counterfeit-goods-are-not-payment-fraud",
        "Detect counterfeit sneakers from photos sent by resellers.",
        {"label": "is_counterfeit"},
        ("use_case",),
    ),
    (
        "a-question-states-a-binary-task",
        "Would a host cancel a confirmed booking at their vacation rental?",
        {"label": "will_cancel", "user_entity": "host"},
        ("use_case",),
    ),
]

IDS = [case[0] for case in CASES]


@pytest.fixture(scope="module")
def spec():
    return load_spec()


def test_case_ids_are_unique_and_plentiful():
    assert len(CASES) >= 45
    assert len(set(IDS)) == len(IDS)


@pytest.mark.parametrize("text,expected,absent", [case[1:] for case in CASES], ids=IDS)
def test_prompt_answers(text, expected, absent):
    answers = as_answers(infer(text))
    for key, value in expected.items():
        assert key in answers, f"{key} not inferred from {text!r}: {answers}"
        assert answers[key] == value and type(answers[key]) is type(value), f"{key}: {answers}"
    for key in absent:
        assert key not in answers, f"{key} must not be inferred from {text!r}: {answers}"
    if not expected:
        assert answers == {}


@pytest.mark.parametrize("text", [case[1] for case in CASES], ids=IDS)
def test_evidence_is_quoted_from_the_prompt(text):
    for inference in infer(text):
        assert inference.evidence and inference.evidence in text, inference
        assert inference.rule


@pytest.mark.parametrize("text", [case[1] for case in CASES], ids=IDS)
def test_inferred_answers_resolve(text, spec):
    answers = as_answers(infer(text))
    resolved, _ = engine.resolve({"project_name": "X", **answers}, spec)
    assert engine.validate(resolved, spec) == []
    for key, value in answers.items():
        assert resolved[key] == value


def test_every_preset_has_use_case_cues_and_only_presets_do():
    assert set(prompt.CUES) == {p["id"] for p in presets()}
    for preset, cues in prompt.CUES.items():
        assert any(weight == 3 for _, weight in cues), f"{preset} has no decisive cue"


@pytest.mark.parametrize(
    "number,unit,expected",
    [
        ("300", "M", 300_000_000),
        ("1.5", "k", 1_500),
        ("2", "B", 2_000_000_000),
        ("3", "bn", 3_000_000_000),
        ("5", "million", 5_000_000),
        ("10,000", None, 10_000),
        ("1", "trillion", 10**12),
        ("twice", None, 2),
    ],
)
def test_amount_units(number, unit, expected):
    assert round(prompt.amount(number, unit)) == expected


@pytest.mark.parametrize(
    "value,rate,expected",
    [(10_000, "second", 864_000_000), (2_000_000, "hour", 48_000_000), (30, "month", 1), (5, "day", 5)],
)
def test_per_day(value, rate, expected):
    assert prompt.per_day(value, rate) == expected


@pytest.mark.parametrize(
    "text,key,expected",
    [
        ("10k transactions per second", "events_per_day", 864_000_000),
        ("1B impressions per day", "events_per_day", 1_000_000_000),
        ("500M transactions daily", "events_per_day", 500_000_000),
        ("1.5k DAU", "daily_active_users", 1_500),
        ("2B daily users", "daily_active_users", 2_000_000_000),
        ("300 million daily active users", "daily_active_users", 300_000_000),
        ("peak of 50k QPS", "peak_qps", 50_000),
        ("at 20,000 rps", "peak_qps", 20_000),
        ("10M videos", "num_items", 10_000_000),
        ("1B documents", "num_items", 1_000_000_000),
        ("within 0.2 seconds", "latency_budget_ms", 200),
        ("under 100 milliseconds", "latency_budget_ms", 100),
    ],
)
def test_unit_conversion_through_infer(text, key, expected):
    (inference,) = [i for i in infer(text) if i.key == key]
    assert inference.value == expected and isinstance(inference.value, int)
    assert inference.evidence in text


def test_later_inference_wins():
    first = Inference("trainer", "xgboost", "XGBoost", "tool:xgboost")
    second = Inference("trainer", "pytorch", "PyTorch", "tool:pytorch")
    assert as_answers([first, second]) == {"trainer": "pytorch"}


def test_negated_online_keeps_numbers_out_of_mode():
    inferences = infer("No real-time requirement; results are read from a table.")
    assert [(i.key, i.value) for i in inferences] == [("prediction_mode", "batch")]
    assert inferences[0].evidence == "real-time"


def test_the_hook_copy_of_the_prompt_rules_works_without_mlsd_installed(tmp_path, spec):
    """Plain cookiecutter runs the post-gen hook where mlsd may not be importable: its rules read the hook's SPEC."""
    import subprocess
    import sys

    from mlsd import templategen

    source = templategen.hook_source("post_gen_finish(CONTEXT, SPEC, project_design_with_prompt)", spec)
    body = source.split("CONTEXT = json.loads", 1)[0].replace("# {% raw %}", "").replace("# {% endraw %}", "")
    script = tmp_path / "hook_rules.py"
    script.write_text(
        body
        + "\nsys.modules['mlsd'] = None  # import mlsd fails, as where it is not installed\n"
        + "found = infer('Predict churn for 20 million subscribers every night')\n"
        + "print(sorted((i.key, str(i.value)) for i in found))\n",
        encoding="utf-8",
    )
    result = subprocess.run([sys.executable, "-I", str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "('label', 'churned')" in result.stdout and "('prediction_mode', 'batch')" in result.stdout


@pytest.mark.parametrize(
    ("text", "label", "subject"),
    [
        ("Predict whether a tenant will pay rent late next month.", "will_pay_late", "tenant"),
        ("Detect whether a batch of tablets is out of spec.", "is_out_of_spec", "batch"),
        ("Will a court case settle before trial?", "will_settle", "case"),
        ("Is a weld defective? Inspect the photos.", "is_defective", "weld"),
        ("Flag players who are cheating in online matches.", "is_cheating", "players"),
        ("Which invoices will be paid more than 30 days late?", "paid_late", "invoices"),
        ("Predict if a stock's price goes up tomorrow.", "will_go_up", "stock"),
        ("Which students are at risk of failing maths?", "will_fail", "students"),
        ("Decide whether a product photo shows a counterfeit or a genuine handbag.", "is_counterfeit", "photo"),
        ("Is a package likely to be damaged in transit?", "is_damaged", "package"),
    ],
)
def test_the_predicted_clause_is_parsed_into_subject_verb_and_state(text, label, subject):
    clause = prompt._clause(text)
    assert clause is not None and clause.subject[-1] == subject
    assert prompt._clause_label(clause)[0] == label


@pytest.mark.parametrize(
    ("word", "lemma"),
    [("goes", "go"), ("stays", "stay"), ("cheating", "cheat"), ("cancelled", "cancel"), ("paid", "pay"),
     ("misses", "miss"), ("applies", "apply"), ("dropped", "drop"), ("arrives", "arrive")],
)  # fmt: skip
def test_common_verb_inflections_are_lemmatized(word, lemma):
    assert prompt._lemma(word) == lemma


def test_the_clause_subject_is_the_entity_and_the_verb_names_the_project():
    answers = as_answers(infer("Predict whether a small business loan will be repaid in full."))
    assert answers["item_entity"] == "loan" and answers["label"] == "is_repaid"
    answers = as_answers(infer("Which players are cheating in online matches? Flag them."))
    assert answers["user_entity"] == "player" and "Cheating" in answers["project_name"]
