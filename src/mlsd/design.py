"""The design document: capacity estimates, A/B sample sizes, a Mermaid diagram and DESIGN.md.

Standard library only and free of mlsd imports, like ``mlsd.engine``: the cookiecutter hooks can
embed this module next to the engine, so plain ``cookiecutter`` writes the same DESIGN.md as the
CLI. Every input is an argument (answers, the preset's facts, the components and the engine's
``holds``); the output is deterministic: no dates, no randomness, stable ordering. The hooks
embed the source in a Jinja raw block, so it never spells out a Jinja delimiter, and no
top-level name repeats one of ``mlsd.engine`` (a test checks both).
"""

import math

DAY_SECONDS = 86_400
DESIGN_PEAK_FACTOR = 3
SPARK_USERS = 50_000_000
SPARK_EVENTS = 5_000_000_000
KAFKA_EVENTS = 100_000_000
AUTOSCALE_QPS = 1000

SECTION_TITLES = [
    "1. Requirements and assumptions",
    "2. ML framing",
    "3. Success metrics",
    "4. Data and labels",
    "5. Features",
    "6. Model",
    "7. Serving architecture",
    "8. Capacity estimates",
    "9. Experiment plan",
    "10. Monitoring, retraining and rollback",
    "11. Pitfalls and mitigations",
    "12. Decisions and alternatives",
]

FEATURE_GROUPS = ["user", "item", "context", "interaction"]

TASK_NAMES = {
    "binary_classification": "binary classification",
    "multiclass": "multiclass classification",
    "multilabel": "multi-label classification",
    "regression": "regression",
    "ranking": "ranking (learning to rank)",
    "retrieval": "retrieval + ranking",
}

CHOICE_NAMES = {
    "batch_engine": {"duckdb": "DuckDB (embedded)", "spark": "Apache Spark"},
    "stream_engine": {
        "none": "None",
        "embedded": "Embedded consumer over a local event log",
        "kafka": "Kafka",
        "flink": "Flink (PyFlink)",
    },
    "feature_store": {"none": "Built-in (Parquet + SQLite)", "feast": "Feast"},
    "trainer": {"sklearn": "scikit-learn", "lightgbm": "LightGBM", "xgboost": "XGBoost", "pytorch": "PyTorch"},
    "vector_index": {"none": "None", "faiss": "FAISS", "hnswlib": "hnswlib"},
    "serving": {"rest": "REST (FastAPI)", "grpc": "gRPC", "rest+grpc": "REST and gRPC", "none": "None"},
    "registry": {"local": "Local (files)", "mlflow": "MLflow"},
    "orchestrator": {
        "none": "None (one pipeline command)",
        "airflow": "Airflow",
        "kubeflow": "Kubeflow Pipelines",
        "prefect": "Prefect",
    },
    "deploy": {"compose": "Docker Compose", "kubernetes": "Kubernetes"},
}

# One uvicorn worker of a generated project on 2 cores, entity ids in the request and features
# read from the embedded online store, served 4.5k req/s (p99 6.9 ms) in `make bench`; with the
# features in the request it served 15.4k req/s. Planning uses the id path, rounded down.
MEASURED_REPLICA_QPS = 4000

DECISION_TITLES = {
    "batch_engine": "Batch engine",
    "stream_engine": "Stream engine",
    "feature_store": "Feature store",
    "trainer": "Trainer",
    "vector_index": "Vector index",
    "serving": "Online serving",
    "registry": "Model registry",
    "orchestrator": "Orchestrator",
    "deploy": "Deployment",
}

FRESHNESS_AGES = {"daily": "a day", "hourly": "an hour", "minutes": "minutes", "seconds": "seconds"}
STREAM_LABELS = {"embedded": "embedded log", "kafka": "Kafka", "flink": "Flink"}
TRAINER_MODELS = {
    "sklearn": "logistic / linear model (scikit-learn)",
    "lightgbm": "gradient-boosted trees (LightGBM)",
    "xgboost": "gradient-boosted trees (XGBoost)",
    "pytorch": "neural network with learned embeddings (PyTorch)",
}
TRAINER_HINTS = {
    "sklearn": ["logistic", "linear", "regression", "lr"],
    "lightgbm": ["lightgbm", "gbdt", "lambdamart", "gradient", "boost"],
    "xgboost": ["xgboost", "gbdt", "gradient", "boost"],
    "pytorch": [
        "dnn",
        "neural",
        "two-tower",
        "transformer",
        "encoder",
        "vit",
        "cnn",
        "deep",
        "dcn",
        "gnn",
        "multi-task",
        "detector",
        "bert",
    ],
}

# Assumed baseline of the primary online metric (a proportion), per task, for experiment sizing.
BASELINE_RATES = {
    "binary_classification": 0.02,
    "multiclass": 0.05,
    "multilabel": 0.05,
    "regression": 0.10,
    "ranking": 0.10,
    "retrieval": 0.05,
}
PLANNED_MDE = 0.05
MDE_OPTIONS = [0.02, 0.05, 0.10]

GENERIC_FRAMING = {
    "binary_classification": {
        "objective": "Predict the probability that {label} is true for a ({user}, {item}) pair.",
        "input": "The {user} and the {item} with their features and the request context",
        "output": "A calibrated probability of {label}, thresholded or used as a score",
        "labels": "Positive when the outcome {label} happened for the pair after exposure, negative otherwise; "
        "wait for a label maturity window so late positives are not counted as negatives.",
        "baseline": "Predict the base rate, then a logistic regression on a handful of strong features.",
        "loss": "Binary cross-entropy (log loss), with class weights or negative down-sampling for rare positives.",
    },
    "multiclass": {
        "objective": "Predict the class {label} of each {item}.",
        "input": "The {item} with its features and the request context",
        "output": "A probability for each class of {label}",
        "labels": "One class per example from human annotation or reliable logged outcomes; "
        "audit a sample to measure label noise.",
        "baseline": "Predict the most frequent class, then hand-written rules for the largest classes.",
        "loss": "Softmax cross-entropy, class-weighted when classes are imbalanced.",
    },
    "multilabel": {
        "objective": "Predict every label of {label} that applies to each {item}.",
        "input": "The {item} with its features, its {user} and the request context",
        "output": "An independent probability per label, each with its own threshold",
        "labels": "Zero or more labels per example from annotation, reports or logged outcomes.",
        "baseline": "Per-label base rates, then a simple heuristic (rules, keywords, popularity or recency).",
        "loss": "Sum of per-label binary cross-entropies (one head per label).",
    },
    "regression": {
        "objective": "Predict the value of {label} for each {item}.",
        "input": "The {item} with its features, its {user} and the request context",
        "output": "A numeric estimate of {label}, optionally with a prediction interval",
        "labels": "The observed value of {label} once the outcome completes; clip or drop impossible values.",
        "baseline": "The historical mean or median per segment (or an existing heuristic estimate).",
        "loss": "MAE or Huber loss (robust to outliers); quantile loss when intervals are needed.",
    },
    "ranking": {
        "objective": "Order candidate {item}s for each {user} so that those with {label} come first.",
        "input": "The {user}, the request context and a set of candidate {item}s",
        "output": "The candidates ordered by predicted relevance",
        "labels": "Graded or binary relevance of each shown {item} from logged interactions ({label}), "
        "grouped per request.",
        "baseline": "Popularity or recency ordering of the candidates.",
        "loss": "Pairwise or listwise ranking loss (LambdaRank) over candidates of the same request.",
    },
    "retrieval": {
        "objective": "Retrieve the {item}s most relevant to each {user} or query from the whole catalogue, "
        "then rank them.",
        "input": "The {user} (or a query) and the request context",
        "output": "The top-k {item}s ordered by relevance",
        "labels": "Positive ({user}, {item}) pairs from logged interactions ({label}); negatives sampled "
        "in-batch or at random from the catalogue.",
        "baseline": "Most popular {item}s, then item-to-item co-occurrence.",
        "loss": "Contrastive / sampled-softmax loss for the two-tower retriever; log loss for the ranker.",
    },
}

GENERIC_METRICS = {
    "binary_classification": (
        ["ROC-AUC", "PR-AUC", "log loss", "calibration (expected / observed positives)"],
        ["positive-outcome rate on acted predictions", "business KPI of the objective"],
    ),
    "multiclass": (
        ["accuracy", "macro-F1", "per-class precision and recall", "log loss"],
        ["rate of corrected or overridden predictions", "business KPI of the objective"],
    ),
    "multilabel": (
        ["PR-AUC per label", "micro- and macro-F1", "recall at fixed precision per label"],
        ["rate of user reports per label", "business KPI of the objective"],
    ),
    "regression": (
        ["MAE", "RMSE", "MAPE", "error percentiles (P50 / P90)"],
        ["share of predictions within tolerance", "business KPI of the objective"],
    ),
    "ranking": (
        ["nDCG@k", "mAP", "MRR"],
        ["CTR", "session success rate"],
    ),
    "retrieval": (
        ["recall@k", "hit rate@k", "nDCG@k after ranking"],
        ["CTR", "engagement per session"],
    ),
}

GENERIC_PITFALLS = {
    "training_serving_skew": (
        "Features computed one way for training and another way at serving time.",
        "One feature definition for both paths; log served features and train on the logs.",
    ),
    "data_leakage": (
        "Information from the future or from the label leaks into training features.",
        "Split by time, join features point-in-time, fit preprocessing on the training split only.",
    ),
    "concept_drift": (
        "The relation between inputs and {label} changes over time.",
        "Monitor feature and prediction drift (PSI) and retrain on the cadence and on alerts.",
    ),
    "class_imbalance": (
        "Positives are rare, so accuracy looks good while the model misses them.",
        "Class weights or down-sampling after the split, and PR-AUC instead of accuracy.",
    ),
    "calibration": (
        "Scores are used as probabilities but are not calibrated (for example after down-sampling).",
        "Calibrate on held-out data (Platt or isotonic) and track the calibration ratio.",
    ),
    "delayed_labels": (
        "Outcomes arrive late, so recent examples look negative.",
        "Use a label maturity window and train only on matured examples.",
    ),
    "label_noise": (
        "Labels come from noisy proxies or inconsistent annotators.",
        "Keep a clean human-labelled evaluation set and audit label agreement.",
    ),
    "position_bias": (
        "Items shown higher get more interactions whatever their relevance.",
        "Log the display position, use it as a training feature fixed at serving, or weight by inverse propensity.",
    ),
    "feedback_loop": (
        "The model only learns from what it already chose to show.",
        "Reserve a small exploration slice and a holdout, and re-rank for diversity.",
    ),
    "cold_start": (
        "New {user}s and {item}s have no interaction history.",
        "Content features, popularity fallbacks and a bootstrapped exposure budget for new {item}s.",
    ),
    "index_staleness": (
        "New {item}s are missing from the index; a new encoder invalidates every stored vector.",
        "Index new {item}s incrementally; rebuild a versioned index with each encoder and swap atomically.",
    ),
    "latency": (
        "Scoring the whole catalogue does not fit the latency budget.",
        "Funnel: cheap retrieval of a few hundred candidates, then the heavy ranker on those only.",
    ),
    "privacy": (
        "Personal data could leak through features, logs or predictions.",
        "Pseudonymize person ids (keyed HMAC), keep PII features out of logs, purge past retention.",
    ),
}

TASK_PITFALLS = {
    "binary_classification": ["class_imbalance", "calibration", "delayed_labels"],
    "multiclass": ["class_imbalance", "label_noise"],
    "multilabel": ["class_imbalance", "label_noise"],
    "regression": ["label_noise"],
    "ranking": ["position_bias", "feedback_loop", "cold_start"],
    "retrieval": ["index_staleness", "cold_start", "feedback_loop", "latency"],
}


# ---------------------------------------------------------------------------- small helpers


def _as_int(value) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip().replace("_", "").replace(",", "")
    try:
        return int(text)
    except ValueError:
        return int(float(text))


def _as_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("y", "yes", "true", "1", "on")


def _text(value) -> str:
    """Return ``value`` as one line of plain text."""
    return " ".join(str(value).split())


def _cell(value) -> str:
    """Return ``value`` as a Markdown table cell: one line, pipes escaped."""
    return _text(value).replace("\\", "\\\\").replace("|", "\\|")


def _row(*cells) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = [_row(*header), "|" + "|".join(" --- " for _ in header) + "|"]
    return lines + [_row(*r) for r in rows]


def _grouped(value: int) -> str:
    return f"{value:,}"


def human_number(value: float) -> str:
    """Return a count with thousands separators; small fractional values keep two decimals."""
    if value == int(value):
        return _grouped(int(value))
    if abs(value) >= 100:
        return _grouped(round(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def human_bytes(size: float) -> str:
    """Return a byte count in decimal units with three significant digits, e.g. ``5.12 TB``."""
    units = ["B", "KB", "MB", "GB", "TB", "PB", "EB"]
    value = float(size)
    index = 0
    while True:
        if index == 0 and value < 1000:
            return f"{int(size):,} B"
        digits = 2 if value < 10 else 1 if value < 100 else 0
        shown = f"{value:.{digits}f}"
        if float(shown) < 1000 or index == len(units) - 1:
            break
        value /= 1000
        index += 1
    if "." in shown:
        shown = shown.rstrip("0").rstrip(".")
    return f"{shown} {units[index]}"


def _ceil_div(numerator: float, denominator: float) -> int:
    """Return ceil(numerator / denominator) without float noise for decimal inputs."""
    scale = 1_000_000
    top = round(numerator * scale)
    bottom = round(denominator * scale)
    return -(-top // bottom)


def _online(answers: dict) -> bool:
    return answers.get("prediction_mode") in ("online", "hybrid")


def _serves(answers: dict) -> bool:
    return _online(answers) and answers.get("serving", "none") not in ("none", "", None)


def _batch(answers: dict) -> bool:
    return answers.get("prediction_mode") == "batch" or _as_bool(answers.get("batch_scoring", False))


def _choice(key: str, value) -> str:
    return CHOICE_NAMES.get(key, {}).get(str(value), str(value))


def _entities(answers: dict) -> dict:
    return {
        "user": str(answers.get("user_entity") or "user"),
        "item": str(answers.get("item_entity") or "item"),
        "label": str(answers.get("label") or "label"),
    }


def _fill(template: str, answers: dict) -> str:
    names = _entities(answers)
    return template.replace("{user}", names["user"]).replace("{item}", names["item"]).replace("{label}", names["label"])


def _days(count: int) -> str:
    return f"{count:,} day" if count == 1 else f"{count:,} days"


def _bullets(items: list) -> list[str]:
    return [f"- {_text(item)}" for item in items] if items else ["- None."]


# ---------------------------------------------------------------------------- capacity


def _feature_counts(facts: dict | None) -> tuple[int, int]:
    if not facts or not isinstance(facts.get("features"), dict):
        return 20, 20
    features = facts["features"]
    return len(features.get("user") or []), len(features.get("item") or [])


def capacity(
    answers: dict,
    facts: dict | None = None,
    per_replica_qps: int = MEASURED_REPLICA_QPS,
    utilization: float = 0.6,
    *,
    embedding_dim: int = 64,
    hnsw_m: int = 16,
    bytes_per_feature: int = 8,
    bytes_per_event: int = 500,
    batch_window_hours: float = 4,
    retention_days: int = 90,
) -> dict:
    """Return back-of-envelope capacity numbers for the answers.

    Every number has a unit in ``units``; ``human`` holds the same numbers as short strings
    (``"46,296 QPS"``, ``"1.2 TB"``). Byte units are decimal (1 KB = 1,000 B).
    """
    online = _online(answers)
    serves = _serves(answers)
    batch = _batch(answers)
    users = _as_int(answers.get("daily_active_users"))
    per_user = _as_int(answers.get("requests_per_user_per_day")) if online else 0
    items = _as_int(answers.get("num_items"))
    events = _as_int(answers.get("events_per_day"))
    avg_qps = users * per_user / DAY_SECONDS
    peak = _as_int(answers.get("peak_qps")) if online else 0
    latency_ms = _as_int(answers.get("latency_budget_ms")) if online else 0
    latency_s = latency_ms / 1000
    concurrency = peak * latency_s
    replicas = _ceil_div(peak, per_replica_qps * utilization) + 1 if serves else 0
    user_features, item_features = _feature_counts(facts)
    feature_store_bytes = (users * user_features + items * item_features) * bytes_per_feature
    index = str(answers.get("vector_index", "none"))
    embedding_bytes = items * embedding_dim * 4 if index not in ("none", "") else 0
    hnsw_bytes = items * (embedding_dim * 4 + hnsw_m * 2 * 4) if index == "hnswlib" else 0
    log_per_day = events * bytes_per_event
    batch_rows = users + items if batch else 0
    batch_rows_per_second = batch_rows / (batch_window_hours * 3600) if batch else 0.0
    result = {
        "prediction_mode": str(answers.get("prediction_mode", "")),
        "online": online,
        "serves": serves,
        "batch": batch,
        "daily_active_users": users,
        "requests_per_user_per_day": per_user,
        "num_items": items,
        "events_per_day": events,
        "avg_qps": avg_qps,
        "peak_factor": DESIGN_PEAK_FACTOR,
        "peak_qps": peak,
        "peak_qps_derived": peak == -(-users * per_user * DESIGN_PEAK_FACTOR // DAY_SECONDS),
        "latency_ms": latency_ms,
        "latency_s": latency_s,
        "concurrency": concurrency,
        "per_replica_qps": per_replica_qps,
        "utilization": utilization,
        "replicas": replicas,
        "user_features": user_features,
        "item_features": item_features,
        "bytes_per_feature": bytes_per_feature,
        "feature_store_bytes": feature_store_bytes,
        "vector_index": index,
        "embedding_dim": embedding_dim,
        "embedding_bytes": embedding_bytes,
        "hnsw_m": hnsw_m,
        "hnsw_bytes": hnsw_bytes,
        "bytes_per_event": bytes_per_event,
        "training_log_bytes_per_day": log_per_day,
        "retention_days": retention_days,
        "training_log_bytes_retained": log_per_day * retention_days,
        "batch_window_hours": batch_window_hours,
        "batch_rows_per_day": batch_rows,
        "batch_rows_per_second": batch_rows_per_second,
    }
    result["units"] = {
        "daily_active_users": "users/day",
        "requests_per_user_per_day": "requests/user/day",
        "num_items": "items",
        "events_per_day": "events/day",
        "avg_qps": "requests/s",
        "peak_qps": "requests/s",
        "latency_ms": "ms",
        "latency_s": "s",
        "concurrency": "requests in flight",
        "per_replica_qps": "requests/s/replica",
        "utilization": "fraction",
        "replicas": "replicas",
        "user_features": "features/user",
        "item_features": "features/item",
        "bytes_per_feature": "B",
        "feature_store_bytes": "B",
        "embedding_dim": "dimensions",
        "embedding_bytes": "B",
        "hnsw_m": "links/node",
        "hnsw_bytes": "B",
        "bytes_per_event": "B",
        "training_log_bytes_per_day": "B/day",
        "retention_days": "days",
        "training_log_bytes_retained": "B",
        "batch_window_hours": "h",
        "batch_rows_per_day": "rows/day",
        "batch_rows_per_second": "rows/s",
    }
    result["human"] = {
        "avg_qps": f"{human_number(avg_qps)} QPS",
        "peak_qps": f"{human_number(peak)} QPS",
        "latency": f"{latency_ms:,} ms",
        "concurrency": f"{human_number(concurrency)} requests in flight",
        "replicas": f"{replicas:,} replicas",
        "feature_store": human_bytes(feature_store_bytes),
        "embeddings": human_bytes(embedding_bytes),
        "hnsw": human_bytes(hnsw_bytes),
        "training_log_per_day": human_bytes(log_per_day) + "/day",
        "training_log_retained": human_bytes(log_per_day * retention_days),
        "batch_rows_per_day": f"{batch_rows:,} rows/day",
        "batch_rows_per_second": f"{human_number(batch_rows_per_second)} rows/s",
    }
    return result


# ---------------------------------------------------------------------------- experiment statistics


def normal_quantile(probability: float) -> float:
    """Return the standard normal quantile (inverse CDF) of ``probability``.

    Acklam's rational approximation, refined by one Halley step on ``math.erfc``.
    """
    if not 0 < probability < 1:
        raise ValueError("probability must lie strictly between 0 and 1")
    a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.3577518672690, -30.66479806614716]
    a.append(2.506628277459239)
    b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572]
    c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734]
    c += [4.374664141464968, 2.938163982698783]
    d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416]
    low = 0.02425
    if probability < low:
        q = math.sqrt(-2 * math.log(probability))
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1
        )
    elif probability <= 1 - low:
        q = probability - 0.5
        r = q * q
        x = (
            (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5])
            * q
            / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        )
    else:
        q = math.sqrt(-2 * math.log(1 - probability))
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1
        )
    error = 0.5 * math.erfc(-x / math.sqrt(2)) - probability
    u = error * math.sqrt(2 * math.pi) * math.exp(x * x / 2)
    return x - u / (1 + x * u / 2)


def sample_size_per_arm(baseline_rate: float, relative_mde: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Return users per arm to detect a relative lift of a proportion (two-sided, equal arms).

    n = (z_(1-alpha/2) + z_power)^2 x (p1(1-p1) + p2(1-p2)) / (p2 - p1)^2 with p2 = p1 x (1 + mde).
    """
    p1 = float(baseline_rate)
    p2 = p1 * (1 + float(relative_mde))
    if not 0 < p1 < 1 or not 0 < p2 < 1 or p1 == p2:
        raise ValueError("need 0 < baseline < 1, 0 < baseline x (1 + mde) < 1 and a non-zero mde")
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError("alpha and power must lie strictly between 0 and 1")
    z = normal_quantile(1 - alpha / 2) + normal_quantile(power)
    n = z * z * (p1 * (1 - p1) + p2 * (1 - p2)) / (p2 - p1) ** 2
    return math.ceil(n - 1e-9)


def experiment_days(per_arm: int, eligible_daily_users: int, arms: int = 2) -> tuple[int, int]:
    """Return ``(days, days rounded up to whole weeks)`` to enrol ``arms x per_arm`` users."""
    if eligible_daily_users <= 0:
        return 0, 0
    days = -(-(per_arm * arms) // eligible_daily_users)
    weeks = max(1, -(-days // 7))
    return days, weeks * 7


# ---------------------------------------------------------------------------- mermaid


def _mermaid_label(text: str) -> str:
    cleaned = str(text).replace('"', "'")
    for ch in "|<>[]#;`&\\":
        cleaned = cleaned.replace(ch, " ")
    cleaned = cleaned.replace("{", " ").replace("}", " ")
    return " ".join(cleaned.split())


def _selected_ids(answers: dict, components: list[dict], holds) -> set:
    return {c["id"] for c in components if holds(c.get("when", {}), answers)}


def _diagram_nodes(answers: dict, chosen: set) -> list[tuple[str, str, str]]:
    """Return ``(node id, shape, label)`` for every selected component drawn in the diagram."""
    nodes: list[tuple[str, str, str]] = []
    if "stream_ingestion" in chosen:
        engine_name = STREAM_LABELS.get(str(answers.get("stream_engine")), str(answers.get("stream_engine")))
        nodes.append(("stream", "queue", f"Event stream ({engine_name})"))
    if "batch_ingestion" in chosen:
        engine_name = "Spark" if answers.get("batch_engine") == "spark" else "DuckDB"
        nodes.append(("ingest", "box", f"Batch ingestion ({engine_name})"))
    if "feast" in chosen:
        nodes.append(("features", "db", "Feature store (Feast)"))
    elif "core" in chosen:
        nodes.append(("features", "db", "Feature store (built-in Parquet + SQLite)"))
    if "training" in chosen:
        nodes.append(("train", "box", f"Training ({_choice('trainer', answers.get('trainer'))})"))
        registry = "MLflow" if "mlflow_registry" in chosen else "local files"
        nodes.append(("registry", "db", f"Model registry ({registry})"))
    elif "mlflow_registry" in chosen:
        nodes.append(("registry", "db", "Model registry (MLflow)"))
    if "vector_index" in chosen:
        index = "hnswlib" if answers.get("vector_index") == "hnswlib" else "FAISS"
        nodes.append(("ann", "box", f"ANN index ({index})"))
    if "online_serving" in chosen or "rest" in chosen or "grpc" in chosen:
        apis = [name for cid, name in (("rest", "REST"), ("grpc", "gRPC")) if cid in chosen]
        label = "Prediction service (" + (" + ".join(apis) or "online") + ")"
        if "kubernetes" in chosen:
            label += " on Kubernetes"
        nodes.append(("serving", "box", label))
    if "batch_scoring" in chosen:
        nodes.append(("batchscore", "box", "Batch scoring to Parquet"))
    if "monitoring" in chosen:
        nodes.append(("monitor", "box", "Monitoring (Prometheus + drift)"))
    if "experiments" in chosen:
        kind = "shadow" if answers.get("experiment") == "shadow" else "A/B test"
        nodes.append(("experiment", "box", f"Experiments ({kind})"))
    for cid, name in (("airflow", "Airflow"), ("kubeflow", "Kubeflow"), ("prefect", "Prefect")):
        if cid in chosen:
            nodes.append(("orchestrator", "box", f"Orchestrator ({name})"))
            break
    return nodes


def mermaid(answers: dict, components: list[dict], holds) -> str:
    """Return a fenced Mermaid flowchart with exactly the selected components as nodes."""
    chosen = _selected_ids(answers, components, holds)
    nodes = _diagram_nodes(answers, chosen)
    present = {node_id for node_id, _, _ in nodes}
    shapes = {"box": ("[", "]"), "db": ("[(", ")]"), "queue": ("([", "])")}
    lines = ["```mermaid", "flowchart LR"]
    for node_id, shape, label in nodes:
        opening, closing = shapes[shape]
        lines.append(f'    {node_id}{opening}"{_mermaid_label(label)}"{closing}')
    edges = [
        ("stream", "-->", "fresh features", "features"),
        ("ingest", "-->", "batch features", "features"),
        ("features", "-->", "point-in-time training set", "train"),
        ("train", "-->", "versioned model", "registry"),
        ("train", "-->", "item embeddings", "ann"),
        ("registry", "-->", "champion", "serving"),
        ("features", "-->", "online features", "serving"),
        ("ann", "-->", "candidates", "serving"),
        ("registry", "-->", "champion", "batchscore"),
        ("features", "-->", "features", "batchscore"),
        ("ann", "-->", "neighbours", "batchscore"),
        ("serving", "-->", "metrics and prediction log", "monitor"),
        ("batchscore", "-->", "score distribution", "monitor"),
        ("experiment", "-.->", "variant assignment", "serving"),
        ("orchestrator", "-.->", "schedules", "ingest"),
        ("orchestrator", "-.->", "schedules", "train"),
        ("orchestrator", "-.->", "schedules", "batchscore"),
    ]
    retrain_target = "orchestrator" if "orchestrator" in present else "train"
    edges.append(("monitor", "-.->", "drift alert", retrain_target))
    for source, arrow, label, target in edges:
        if source in present and target in present:
            lines.append(f'    {source} {arrow}|"{_mermaid_label(label)}"| {target}')
    lines.append("```")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- content helpers


def _framing(answers: dict, facts: dict | None) -> dict:
    task = str(answers.get("ml_task", "binary_classification"))
    generic = GENERIC_FRAMING.get(task, GENERIC_FRAMING["binary_classification"])
    facts = facts or {}
    result = {key: _fill(value, answers) for key, value in generic.items()}
    for key, fact_key in (("objective", "ml_objective"), ("input", "input"), ("output", "output")):
        if facts.get(fact_key):
            result[key] = str(facts[fact_key])
    if facts.get("labels"):
        result["labels"] = str(facts["labels"])
    result["detail"] = str(facts.get("task_detail") or "")
    return result


def _metrics(answers: dict, facts: dict | None) -> tuple[list, list, list]:
    facts = facts or {}
    task = str(answers.get("ml_task", "binary_classification"))
    offline, online = GENERIC_METRICS.get(task, GENERIC_METRICS["binary_classification"])
    offline = list(facts.get("offline_metrics") or offline)
    online = list(facts.get("online_metrics") or online)
    guardrails = list(facts.get("guardrail_metrics") or [])
    if not guardrails:
        if _online(answers):
            guardrails = ["p99 latency within the budget", "error rate"]
        else:
            guardrails = ["batch job completes within its window", "share of entities scored"]
        guardrails.append("prediction distribution stable against the last release")
    return offline, online, guardrails


def _features(answers: dict, facts: dict | None) -> dict:
    """Return group -> list of feature dicts (name, description, dtype, pii, freshness)."""
    pii = _as_bool(answers.get("contains_pii", False))
    if facts and isinstance(facts.get("features"), dict):
        groups = {}
        for group in FEATURE_GROUPS:
            rows = []
            for feature in facts["features"].get(group) or []:
                row = dict(feature)
                if "pii" not in row:
                    row["pii"] = pii if group == "user" else False
                rows.append(row)
            groups[group] = rows
        return groups
    names = _entities(answers)
    user, item = names["user"], names["item"]
    fresh = str(answers.get("feature_freshness", "daily"))
    generic = {
        "user": [
            (f"{user}_id", "category", "static", f"{user} identifier (a keyed pseudonym when the data holds PII)"),
            (f"{user}_tenure_days", "int", "daily", f"Days since the {user} joined"),
            (f"{user}_activity_7d", "int", fresh, f"Events by the {user} in the last 7 days"),
            (f"{user}_embedding", "embedding", "daily", f"Learned {user} vector"),
        ],
        "item": [
            (f"{item}_id", "category", "static", f"Identifier of the {item}"),
            (f"{item}_category", "category", "static", f"Category of the {item}"),
            (f"{item}_age_days", "int", "daily", f"Days since the {item} was created"),
            (f"{item}_popularity_7d", "int", fresh, f"Interactions with the {item} in the last 7 days"),
        ],
        "context": [
            ("hour_of_day", "int", "request", "Local hour of the request"),
            ("day_of_week", "category", "request", "Day of the week of the request"),
            ("device", "category", "request", "Device type of the request"),
        ],
        "interaction": [
            (f"{user}_{item}_interactions_30d", "int", fresh, f"Past interactions of the {user} with this {item}"),
            (
                f"{user}_{item}_category_affinity",
                "float",
                "daily",
                f"Share of the {user}'s interactions that hit the {item}'s category",
            ),
        ],
    }
    return {
        group: [
            {"name": n, "dtype": t, "freshness": f, "pii": pii and group == "user", "description": d}
            for n, t, f, d in rows
        ]
        for group, rows in generic.items()
    }


def _feature_rows(answers: dict, facts: dict | None) -> list[list]:
    groups = _features(answers, facts)
    rows = []
    for group in FEATURE_GROUPS:
        features = groups.get(group) or []
        if not features:
            rows.append([group, "(none)", "", "", "", "No features in this group for this design"])
            continue
        for feature in features:
            rows.append(
                [
                    group,
                    f"`{feature.get('name', '')}`",
                    feature.get("dtype", ""),
                    feature.get("freshness", ""),
                    "yes" if _as_bool(feature.get("pii", False)) else "no",
                    feature.get("description", ""),
                ]
            )
    return rows


def _pick_model(models: list[str], answers: dict) -> tuple[int, str]:
    """Return ``(index, reason)`` of the model chosen for a stage."""
    lowered = [m.lower() for m in models]
    for index, text in enumerate(lowered):
        if "(chosen)" in text:
            return index, "the option the case study settles on"
    index_name = str(answers.get("vector_index", "none"))
    if index_name != "none":
        wanted = ["faiss"] if index_name == "faiss" else ["hnsw"]
        for index, text in enumerate(lowered):
            if any(w in text for w in wanted):
                return index, f"served by the selected vector index ({_choice('vector_index', index_name)})"
    trainer = str(answers.get("trainer", "sklearn"))
    for index, text in enumerate(lowered):
        words = text.replace("/", " ").replace("(", " ").replace(")", " ").replace(",", " ").split()
        for hint in TRAINER_HINTS.get(trainer, []):
            if (hint in words) if len(hint) <= 3 else (hint in text):
                return index, f"trainable with the selected trainer ({_choice('trainer', trainer)})"
    return 0, "the simplest option listed that fulfils the stage's role"


def _stages(answers: dict, facts: dict | None) -> list[dict]:
    if facts and facts.get("stages"):
        return [dict(stage) for stage in facts["stages"]]
    task = str(answers.get("ml_task", "binary_classification"))
    trainer = str(answers.get("trainer", "sklearn"))
    others = [TRAINER_MODELS[t] for t in TRAINER_MODELS if t != trainer]
    main = [TRAINER_MODELS.get(trainer, trainer), *others]
    names = _entities(answers)
    if task == "retrieval":
        index = _choice("vector_index", answers.get("vector_index", "none"))
        return [
            {
                "name": "candidate_retrieval",
                "role": f"Find a few hundred {names['item']}s by embedding similarity",
                "models": [f"two-tower embeddings + ANN ({index})", "item co-occurrence", "popularity"],
            },
            {"name": "ranking", "role": "Score the candidates precisely", "models": main},
            {"name": "reranking", "role": "Diversity, de-duplication and business rules", "models": ["rules"]},
        ]
    if task == "ranking":
        return [
            {
                "name": "candidate_generation",
                "role": f"Select the {names['item']}s eligible for the request",
                "models": ["rules and filters", "popularity", "embedding retrieval"],
            },
            {"name": "ranking", "role": "Order the candidates", "models": main},
        ]
    return [{"name": "scoring", "role": f"Predict {names['label']} for each request", "models": main}]


def _pitfalls(answers: dict, facts: dict | None) -> list[tuple[str, str, str]]:
    if facts and facts.get("pitfalls"):
        return [
            (str(p.get("tag", "")), str(p.get("note", "")), str(p.get("mitigation", ""))) for p in facts["pitfalls"]
        ]
    task = str(answers.get("ml_task", "binary_classification"))
    tags = ["training_serving_skew", "data_leakage", *TASK_PITFALLS.get(task, []), "concept_drift"]
    if _as_bool(answers.get("contains_pii", False)):
        tags.append("privacy")
    result = []
    for tag in tags:
        note, mitigation = GENERIC_PITFALLS[tag]
        result.append((tag, _fill(note, answers), _fill(mitigation, answers)))
    return result


# ---------------------------------------------------------------------------- sections


def _section_requirements(answers: dict, facts: dict | None, assumptions: list, inferred: dict, cap: dict) -> list:
    online = _online(answers)

    assumed = {item.split(" = ", 1)[0] for item in assumptions}

    def source(key: str) -> str:
        if key in inferred:
            return f"inferred from: {_text(inferred[key])}"
        return "assumed" if key in assumed else "answer"

    mode_names = {
        "online": "online, per request",
        "batch": "batch, precomputed on a schedule",
        "hybrid": "hybrid (precomputed candidates, online scoring)",
    }
    mode = str(answers.get("prediction_mode", ""))
    latency = f"{_as_int(answers.get('latency_budget_ms')):,} ms (p99)" if online else "n/a (batch predictions)"
    peak_note = "derived: users x requests / 86,400 x 3" if cap["peak_qps_derived"] else "given"
    rows = [
        ["Business objective", answers.get("business_objective", ""), source("business_objective")],
        ["Prediction mode", mode_names.get(mode, mode), source("prediction_mode")],
        ["Latency budget", latency, source("latency_budget_ms")],
        ["Feature freshness", answers.get("feature_freshness", ""), source("feature_freshness")],
        ["Daily active users", _grouped(cap["daily_active_users"]), source("daily_active_users")],
    ]
    if online:
        rows += [
            [
                "Requests per user per day",
                _grouped(cap["requests_per_user_per_day"]),
                source("requests_per_user_per_day"),
            ],
            ["Peak QPS", f"{_grouped(cap['peak_qps'])} ({peak_note})", source("peak_qps")],
        ]
    rows += [
        ["Items", _grouped(cap["num_items"]), source("num_items")],
        ["Events per day", _grouped(cap["events_per_day"]), source("events_per_day")],
        ["Contains PII", "yes" if _as_bool(answers.get("contains_pii", False)) else "no", source("contains_pii")],
    ]
    lines = [f"## {SECTION_TITLES[0]}", ""]
    lines += _table(["Requirement", "Value", "Source"], rows)
    lines += ["", "### Assumptions", ""]
    stated = [_text(a) for a in assumptions or []]
    if online:
        stated.append("Peak traffic is 3x the daily average.")
    stated.append("The capacity figures below are estimates to validate with load tests, not measurements.")
    lines += _bullets(stated)
    lines += ["", "### Inferred answers", ""]
    if inferred:
        lines += [
            f"- `{key}` = {_text(answers.get(key, ''))}: inferred from: {_text(inferred[key])}" for key in inferred
        ]
    else:
        lines.append("- None: every answer was given or taken from the preset and the derivation rules.")
    return lines


def _section_framing(answers: dict, facts: dict | None) -> list:
    framing = _framing(answers, facts)
    names = _entities(answers)
    task = str(answers.get("ml_task", ""))
    lines = [f"## {SECTION_TITLES[1]}", ""]
    lines.append(f"- **Business objective:** {_text(answers.get('business_objective', ''))}")
    lines.append(f"- **ML objective:** {_text(framing['objective'])}")
    lines.append(f"- **Input:** {_text(framing['input'])}")
    lines.append(f"- **Output:** {_text(framing['output'])}")
    task_line = f"- **ML task:** {TASK_NAMES.get(task, task)} (`{task}`)"
    if framing["detail"]:
        task_line += f". {_text(framing['detail'])}"
    lines.append(task_line)
    lines.append(f"- **Label column:** `{names['label']}`")
    lines.append(f"- **Entities:** user entity `{names['user']}`, item entity `{names['item']}`")
    lines += ["", "The system runs as these stages:", ""]
    for number, stage in enumerate(_stages(answers, facts), start=1):
        lines.append(f"{number}. **{_text(stage.get('name', ''))}**: {_text(stage.get('role', ''))}")
    return lines


def _section_metrics(answers: dict, facts: dict | None) -> list:
    offline, online, guardrails = _metrics(answers, facts)
    lines = [f"## {SECTION_TITLES[2]}", ""]
    lines += ["### Offline", ""] + _bullets(offline)
    lines += ["", "### Online", ""]
    lines.append(f"Primary metric (decided before any experiment starts): **{_text(online[0])}**.")
    lines += [""] + _bullets(online)
    lines += ["", "### Guardrails", "", "Metrics that must not get worse when a new model ships:", ""]
    lines += _bullets(guardrails)
    return lines


def _section_data(answers: dict, facts: dict | None, cap: dict) -> list:
    framing = _framing(answers, facts)
    names = _entities(answers)
    pii = _as_bool(answers.get("contains_pii", False))
    batch_engine = _choice("batch_engine", answers.get("batch_engine", "duckdb"))
    stream = str(answers.get("stream_engine", "none"))
    rows = [
        [f"{names['user']} table", f"{cap['daily_active_users']:,} daily active", "profile and activity features"],
        [f"{names['item']} catalogue", f"{cap['num_items']:,} items", "item attributes and embeddings"],
        [
            "event log",
            f"{cap['events_per_day']:,} events/day (about {cap['human']['training_log_per_day']})",
            "interactions, served features and labels",
        ],
    ]
    lines = [f"## {SECTION_TITLES[3]}", ""]
    lines += _table(["Source", "Volume", "Used for"], rows)
    lines += ["", "### Labels", ""]
    lines.append(f"Label column `{names['label']}`. {_text(framing['labels'])}")
    lines += ["", "### Pipelines and splits", ""]
    pipeline = [
        f"Batch ingestion runs on {batch_engine} over Parquet; malformed rows go to a dead-letter store "
        "instead of failing the job.",
    ]
    if stream != "none":
        pipeline.append(
            f"Stream ingestion ({_choice('stream_engine', stream)}) keeps the fresh features within "
            f"{answers.get('feature_freshness', '')}."
        )
    pipeline += [
        "Split by time (train on the past, validate and test on the most recent period), never at random.",
        "Fit scaling, imputation and encoders on the training split only; resample only after splitting.",
        "Join features to labels point-in-time, using the feature values known when the prediction was made.",
    ]
    if answers.get("ml_task") in ("binary_classification", "multilabel"):
        pipeline.append("Positives are usually rare: down-sample negatives in training and correct the calibration.")
    lines += _bullets(pipeline)
    lines += ["", "### Privacy", ""]
    if pii:
        lines += _bullets(
            [
                "The data contains personal information. Person ids are replaced at ingestion (batch and "
                "stream) by a keyed pseudonym (HMAC-SHA256 with PSEUDONYM_KEY from the environment, never "
                "in the repo): clean tables, feature stores, the stream sink and training data hold only "
                "pseudonyms.",
                "Serving pseudonymizes the ids of each request before the feature lookup, the A/B assignment "
                "and logging: prediction and exposure logs and metrics hold no raw id; outcomes files are "
                "pseudonymized on read to join them.",
                "PII-flagged features (the feature table below) are used by the model but written to the "
                "prediction log as empty values, so drift is not monitored for them.",
                "Raw inputs (var/raw) keep the records as received, and so do dead letters of rejected "
                "records, except rejected batch events, whose person id is already pseudonymized (it is "
                "checked against the pseudonymized users): `purge` deletes raw events, log rows, stream sink "
                "rows and dead letters older than retention_days (30 by default).",
            ]
        )
    else:
        lines += _bullets(
            [
                "No personal information declared: ids are stored as received; `purge` deletes raw events, "
                "log rows and dead letters older than retention_days (365 by default)."
            ]
        )
    return lines


def _section_features(answers: dict, facts: dict | None) -> list:
    rows = _feature_rows(answers, facts)
    counts = {group: 0 for group in FEATURE_GROUPS}
    for row in rows:
        if row[1] != "(none)":
            counts[row[0]] += 1
    summary = ", ".join(f"{counts[g]} {g}" for g in FEATURE_GROUPS)
    lines = [f"## {SECTION_TITLES[4]}", ""]
    lines.append(
        f"Features grouped user / item / context / interaction ({summary}). Freshness is how old a value may "
        f"be at prediction time; the requirement is `{answers.get('feature_freshness', '')}` for the "
        "fastest-moving features, and `request` means the value arrives with the request."
    )
    if not facts:
        lines.append("")
        lines.append("These are generic starting features for the entities; replace them with the real signals.")
    lines.append("")
    lines += _table(["Group", "Feature", "Type", "Freshness", "PII", "Description"], rows)
    return lines


def _section_model(answers: dict, facts: dict | None) -> list:
    task = str(answers.get("ml_task", "binary_classification"))
    framing = GENERIC_FRAMING.get(task, GENERIC_FRAMING["binary_classification"])
    trainer = str(answers.get("trainer", "sklearn"))
    lines = [f"## {SECTION_TITLES[5]}", ""]
    lines.append(f"- **Baseline:** {_fill(framing['baseline'], answers)} Every model must beat it offline.")
    lines.append(f"- **Trainer:** {_choice('trainer', trainer)} (`{trainer}`).")
    lines.append(f"- **Loss:** {_fill(framing['loss'], answers)}")
    lines += ["", "### Models per stage", ""]
    rows = []
    for stage in _stages(answers, facts):
        models = [str(m) for m in stage.get("models") or []] or ["rules"]
        index, why = _pick_model(models, answers)
        alternatives = ", ".join(m for i, m in enumerate(models) if i != index) or "none listed"
        rows.append([stage.get("name", ""), stage.get("role", ""), models[index], alternatives, why])
    lines += _table(["Stage", "Role", "Chosen", "Alternatives", "Why this one"], rows)
    lines += ["", "### Training and evaluation", ""]
    lines += _bullets(
        [
            "Start simple: baseline, then the chosen model; add complexity only when it wins offline and online.",
            "Tune on the validation period; report the offline metrics on the test period and on key slices.",
            f"Retrain {answers.get('retraining_cadence', 'weekly')} on a sliding window of recent data.",
        ]
    )
    return lines


def _section_serving(answers: dict, facts: dict | None, components: list, holds, cap: dict) -> list:
    mode = str(answers.get("prediction_mode", ""))
    fresh = str(answers.get("feature_freshness", "daily"))
    stream = str(answers.get("stream_engine", "none"))
    lines = [f"## {SECTION_TITLES[6]}", "", mermaid(answers, components, holds), ""]
    if mode == "online":
        lines.append(
            "**Online prediction:** every request is scored when it arrives, with features read from the online "
            "store; the model is loaded from the registry's champion version."
        )
    elif mode == "hybrid":
        lines.append(
            "**Hybrid prediction:** heavy work (embeddings, candidates, scores for known entities) is precomputed "
            "in batch; the request path only looks up and scores the final candidates."
        )
    else:
        lines.append(
            "**Batch prediction:** predictions for every entity are precomputed on a schedule and written to "
            "Parquet; callers read them, so there is no request-time latency, at the cost of predictions being "
            "as old as the last run."
        )
    if _online(answers):
        percentile = str((facts or {}).get("latency_percentile") or "p99")
        budget = cap["latency_ms"]
        if answers.get("ml_task") in ("retrieval", "ranking") or answers.get("vector_index", "none") != "none":
            parts = [("network and serialization", 0.1), ("feature lookup", 0.2), ("candidate retrieval", 0.2)]
            parts.append(("ranking model", 0.5))
        else:
            parts = [("network and serialization", 0.1), ("feature lookup", 0.25), ("model inference", 0.65)]
        lines += ["", f"### Latency budget ({budget:,} ms, {percentile})", ""]
        rows = [[name, f"{budget * share:,.1f} ms", f"{round(share * 100)} %"] for name, share in parts]
        lines += _table(["Step", "Budget", "Share"], rows)
        lines += ["", "Slow dependencies get a timeout and a fallback (cached or popular results) inside the budget."]
    freshness_text = {
        "daily": "a daily batch job recomputes the features",
        "hourly": "an hourly batch job recomputes the features and materializes them to the online store",
        "minutes": "the stream consumer updates the fast features within minutes",
        "seconds": "the stream consumer updates the fast features within seconds",
    }.get(fresh, fresh)
    lines += ["", "### Freshness", ""]
    line = f"Required freshness `{fresh}`: {freshness_text}"
    if stream != "none":
        line += f" ({_choice('stream_engine', stream)})"
    lines.append(line + ".")
    chosen = [c for c in components if holds(c.get("when", {}), answers)]
    lines += ["", "### Generated components", ""]
    lines += [f"- `{c['id']}`: {_text(c.get('title', ''))}" for c in chosen]
    return lines


def _section_capacity(cap: dict) -> list:
    human = cap["human"]
    rows = []
    if cap["online"]:
        rows.append(
            [
                "Average QPS",
                "DAU x requests per user per day / 86,400",
                f"{cap['daily_active_users']:,} x {cap['requests_per_user_per_day']:,} / 86,400",
                human["avg_qps"],
            ]
        )
        peak_formula = "average x 3 (peak factor)" if cap["peak_qps_derived"] else "given in the answers"
        peak_inputs = f"{human_number(cap['avg_qps'])} x 3" if cap["peak_qps_derived"] else "peak_qps answer"
        rows.append(["Peak QPS", peak_formula, peak_inputs, human["peak_qps"]])
        rows.append(
            [
                "Concurrency (Little's law)",
                "peak QPS x latency (s)",
                f"{cap['peak_qps']:,} x {cap['latency_s']:g}",
                human["concurrency"],
            ]
        )
    if cap["serves"]:
        rows.append(
            [
                "Serving replicas",
                "ceil(peak QPS / (per-replica QPS x utilization)) + 1 for failover",
                f"ceil({cap['peak_qps']:,} / ({cap['per_replica_qps']:,} x {cap['utilization']:g})) + 1",
                human["replicas"],
            ]
        )
    rows.append(
        [
            "Online feature store",
            "(users x user features + items x item features) x 8 B",
            f"({cap['daily_active_users']:,} x {cap['user_features']} + {cap['num_items']:,} x "
            f"{cap['item_features']}) x {cap['bytes_per_feature']} B",
            human["feature_store"],
        ]
    )
    if cap["embedding_bytes"]:
        rows.append(
            [
                "Item embeddings (fp32)",
                "items x dim x 4 B",
                f"{cap['num_items']:,} x {cap['embedding_dim']} x 4 B",
                human["embeddings"],
            ]
        )
    if cap["hnsw_bytes"]:
        rows.append(
            [
                "HNSW index",
                "items x (dim x 4 + M x 2 x 4) B",
                f"{cap['num_items']:,} x ({cap['embedding_dim']} x 4 + {cap['hnsw_m']} x 2 x 4) B",
                human["hnsw"],
            ]
        )
    rows.append(
        [
            "Training log per day",
            "events per day x 500 B",
            f"{cap['events_per_day']:,} x {cap['bytes_per_event']} B",
            human["training_log_per_day"],
        ]
    )
    rows.append(
        [
            f"Training log kept ({cap['retention_days']} days)",
            "log per day x retention days",
            f"{human['training_log_per_day']} x {cap['retention_days']}",
            human["training_log_retained"],
        ]
    )
    if cap["batch"]:
        rows.append(
            [
                "Batch scoring throughput",
                "(users + items) rows per day / scoring window",
                f"({cap['daily_active_users']:,} + {cap['num_items']:,}) / ({cap['batch_window_hours']:g} h x 3,600)",
                human["batch_rows_per_second"],
            ]
        )
    lines = [f"## {SECTION_TITLES[7]}", ""]
    lines += _table(["Quantity", "Formula", "Inputs", "Result"], rows)
    notes = ["Byte sizes use decimal units (1 GB = 10^9 B) and 8 bytes per feature value."]
    if cap["serves"]:
        notes.append(
            f"Per-replica throughput of {cap['per_replica_qps']:,} QPS at {cap['utilization']:g} target utilization "
            "comes from `make bench` of the generated service (one worker, 2 cores, online-store lookups); "
            "rerun it with the real model and hardware and redo the replica count."
        )
    if cap["embedding_bytes"]:
        notes.append(
            f"Embeddings assume {cap['embedding_dim']} dimensions in fp32; fp16 halves and int8 quarters the "
            "memory, and product quantization shrinks it further at some recall cost."
        )
    if not cap["serves"]:
        notes.append("No online serving, so no replicas; the batch job must finish within its window.")
    elif cap["batch"]:
        notes.append(f"Batch scoring assumes a {cap['batch_window_hours']:g}-hour window each day.")
    lines += [""] + _bullets(notes)
    return lines


def _section_experiment(answers: dict, facts: dict | None, cap: dict) -> list:
    kind = str(answers.get("experiment", "none"))
    task = str(answers.get("ml_task", "binary_classification"))
    names = _entities(answers)
    _, online, guardrails = _metrics(answers, facts)
    baseline = BASELINE_RATES.get(task, 0.05)
    users = cap["daily_active_users"]
    lines = [f"## {SECTION_TITLES[8]}", ""]
    if kind == "ab":
        lines.append(
            f"**A/B test.** Each {names['user']} is assigned to control (champion) or treatment (challenger) by "
            "hashing their id with a per-experiment salt, so the assignment is sticky and independent across "
            "experiments. Ramp 1 % -> 5 % -> 50 % with automatic rollback on guardrail breaches, then run the "
            "fixed-horizon 50/50 test below."
        )
    elif kind == "shadow":
        lines.append(
            "**Shadow deployment.** The challenger scores a copy of live traffic while only the champion's "
            "predictions are served. Compare score distributions, agreement with the champion, and latency; "
            "this doubles inference cost while it runs. After a clean shadow period, promote through a canary "
            "and an A/B test sized as below."
        )
    else:
        lines.append(
            "**No online experiment is configured.** New models are gated offline (beat the champion on a fixed "
            "evaluation set and key slices) and compared on a backtest of recent data. If an A/B test is added "
            "later, size it as below."
        )
    per_arm = sample_size_per_arm(baseline, PLANNED_MDE)
    days, rounded = experiment_days(per_arm, users)
    lines += ["", "### Sample size", ""]
    lines.append(
        f"Primary metric **{_text(online[0])}**, treated as a proportion with an assumed baseline of "
        f"{baseline * 100:g} % (replace with the measured rate). Two-sided alpha 0.05, power 0.8, two equal arms: "
        "n per arm = (z_0.975 + z_0.8)^2 x (p1(1-p1) + p2(1-p2)) / (p2 - p1)^2 with p2 = p1 x (1 + MDE)."
    )
    lines.append("")
    rows = []
    for mde in MDE_OPTIONS:
        n = sample_size_per_arm(baseline, mde)
        d, r = experiment_days(n, users)
        duration = f"{_days(d)} -> run {_days(r)}" if users else "n/a (no daily users)"
        rows.append([f"{mde * 100:g} %", f"{n:,}", f"{2 * n:,}", duration])
    lines += _table(["Relative MDE", "Users per arm", "Users total", "Duration"], rows)
    lines.append("")
    if users:
        lines.append(
            f"Planned MDE {PLANNED_MDE * 100:g} %: {per_arm:,} users per arm; with {users:,} eligible users a day, "
            f"ceil(2 x {per_arm:,} / {users:,}) = {_days(days)}, rounded up to whole weeks: **{_days(rounded)}**. "
            "Whole weeks cover weekly seasonality and dampen novelty effects; counting daily users as new "
            "enrolments is optimistic when the same users return every day."
        )
    else:
        lines.append(f"Planned MDE {PLANNED_MDE * 100:g} %: {per_arm:,} users per arm.")
    lines += ["", "### Checks", ""]
    lines += _bullets(
        [
            "Sample ratio mismatch (SRM): a chi-square test of the observed arm sizes against the planned split; "
            "if p < 0.001, stop and find the assignment or logging bug before reading any metric.",
            "Fixed horizon: read the result once at the planned duration; repeated peeking inflates false "
            "positives (use a sequential test if early stopping is needed).",
            "Guardrails must not regress: " + "; ".join(_text(g) for g in guardrails) + ".",
        ]
    )
    return lines


def _section_monitoring(answers: dict, facts: dict | None) -> list:
    cadence = str(answers.get("retraining_cadence", "weekly"))
    registry = str(answers.get("registry", "local"))
    monitoring = _as_bool(answers.get("monitoring", True))
    lines = [f"## {SECTION_TITLES[9]}", ""]
    lines += ["### Monitoring", ""]
    if monitoring:
        lines.append("Prometheus metrics, a prediction log and periodic drift reports are generated.")
    else:
        lines.append(
            "Monitoring is switched off in the answers; the generated service has no metrics or drift reports. "
            "Turn it on before production traffic."
        )
    lines.append("")
    signals = []
    if _online(answers):
        signals.append(
            f"Operational: request rate, error rate and latency p50/p99 against the "
            f"{_as_int(answers.get('latency_budget_ms')):,} ms budget, and saturation of the replicas."
        )
    if _batch(answers):
        signals.append("Batch: job duration against its window, rows scored and rows sent to the dead-letter store.")
    signals += [
        "Feature drift: PSI per feature against the training baseline (decile bins): below 0.1 stable, "
        "0.1 to 0.25 watch, above 0.25 investigate and retrain. KS test for numeric and chi-square for "
        "categorical features, read together with an effect size because large samples make tiny shifts "
        "significant.",
        "Prediction drift: PSI of the score distribution, an early warning while labels are still delayed.",
        "Model quality: the offline metrics recomputed on matured labels, alerting on a drop below the release's band.",
    ]
    lines += _bullets(signals)
    lines += ["", "### Retraining", ""]
    cadence_text = {
        "hourly": "hourly, fine-tuning the current model on the newest data with a periodic full retrain to "
        "avoid forgetting",
        "daily": "daily, on a sliding window of recent data",
        "weekly": "weekly, from scratch on a sliding window of recent data",
        "manual": "manually, when enough new labels accumulate or an alert fires",
    }.get(cadence, cadence)
    retrain = [f"Cadence: {cadence_text}."]
    if facts and facts.get("retraining"):
        retrain.append(f"Case-study practice: {_text(facts['retraining'])}")
    retrain += [
        "Extra triggers: feature or prediction PSI above 0.25, or a quality drop on matured labels. Fix pipeline "
        "bugs and skew first, or the next model learns them.",
        "Promotion gate: the challenger must beat the champion on the fixed evaluation set and slices, pass "
        "schema and data checks, then pass the experiment plan above.",
    ]
    lines += _bullets(retrain)
    lines += ["", "### Rollback", ""]
    where = "the MLflow registry" if registry == "mlflow" else "the local file registry"
    lines += _bullets(
        [
            f"Every model is a version in {where}; the service loads whichever version the `champion` alias "
            "points to, and the candidate is the `challenger`.",
            "Rollback is re-pointing the `champion` alias to the previous version and reloading: no rebuild and "
            "no redeploy. Keep the last few versions loadable.",
            "Version the feature definitions and the training data snapshot with each model, so a rollback "
            "restores a consistent pair.",
        ]
    )
    return lines


def _section_pitfalls(answers: dict, facts: dict | None) -> list:
    rows = [[f"`{tag}`", note, mitigation] for tag, note, mitigation in _pitfalls(answers, facts)]
    lines = [f"## {SECTION_TITLES[10]}", ""]
    lines += _table(["Pitfall", "Risk", "Mitigation"], rows)
    return lines


def _decision_reason(key: str, answers: dict, cap: dict) -> str:
    value = str(answers.get(key, ""))
    users, events, items = cap["daily_active_users"], cap["events_per_day"], cap["num_items"]
    fresh = str(answers.get("feature_freshness", "daily"))
    age = FRESHNESS_AGES.get(fresh, fresh)
    big_data = users >= SPARK_USERS or events >= SPARK_EVENTS
    peak = cap["peak_qps"]
    task = str(answers.get("ml_task", ""))
    if key == "batch_engine":
        scale = f"{users:,} daily users and {events:,} events a day"
        if value == "spark":
            if big_data:
                return f"{scale} outgrow one machine (threshold 50M users or 5B events a day); Spark distributes it."
            return f"{scale} would fit DuckDB; Spark was chosen to keep the path to a cluster open."
        if big_data:
            return f"{scale} exceed the one-machine threshold; DuckDB works for samples, plan a move to Spark."
        return f"{scale} fit one machine (Spark pays off from 50M users or 5B events a day); nothing to operate."
    if key == "stream_engine":
        if value == "none":
            return f"Features may be {age} old, so scheduled batch jobs are fresh enough; no stream to run."
        if value == "embedded":
            return (
                f"Features must be fresh within {age} at {events:,} events a day (below 100M): "
                "one local consumer keeps up."
            )
        if value == "kafka":
            if events >= KAFKA_EVENTS:
                return (
                    f"{events:,} events a day need a partitioned, replayable log to keep features fresh within {age}."
                )
            return "A durable, replayable log shared by several consumers, chosen ahead of the volume."
        return "Windowed, stateful aggregations over the event stream with checkpointed state."
    if key == "feature_store":
        if value == "feast":
            return (
                "Online predictions need fresh features at low latency; Feast keeps point-in-time training joins "
                "and the online store on one definition, which limits training-serving skew."
            )
        if _online(answers) and fresh != "daily":
            return "Built-in Parquet + SQLite chosen for simplicity; watch skew and lookup latency as freshness rises."
        return f"Features may be {age} old and are read from files or SQLite; a feature service would add no value."
    if key == "trainer":
        reasons = {
            "sklearn": "A fast, explainable tabular model; the right first model and baseline.",
            "lightgbm": "Gradient-boosted trees are the strongest default on tabular features, train fast on CPU "
            "and support ranking objectives (lambdarank).",
            "xgboost": "Gradient-boosted trees with mature regression and ranking objectives; fast on tabular data.",
            "pytorch": "The design needs learned embeddings, encoders or multi-task heads, which trees cannot learn.",
        }
        return reasons.get(value, "Chosen in the answers.")
    if key == "vector_index":
        if value == "faiss":
            return (
                f"{items:,} items ({human_bytes(cap['embedding_bytes'])} of fp32 embeddings): FAISS offers IVF and "
                "product quantization to shard and compress at this size."
            )
        if value == "hnswlib":
            return (
                f"{items:,} items fit in memory as an HNSW graph ({human_bytes(cap['hnsw_bytes'])}); it gives high "
                "recall at low latency without training an index."
            )
        if task in ("ranking", "retrieval"):
            return "Candidates come from rules and filters; add an index when exhaustive scoring gets too slow."
        return f"The {TASK_NAMES.get(task, task)} task scores given inputs; there is no catalogue to search."
    if key == "serving":
        if value == "none":
            return "Batch prediction: results are precomputed, so no request-time server is needed."
        if value == "rest":
            if peak >= 10_000:
                return (
                    f"JSON over HTTP keeps every caller simple; at {peak:,} peak QPS consider gRPC for internal "
                    "callers to cut serialization cost."
                )
            return f"JSON over HTTP works for any caller; at {peak:,} peak QPS its overhead is negligible."
        if value == "grpc":
            return f"Protobuf over HTTP/2 cuts serialization cost for internal callers at {peak:,} peak QPS."
        return "REST for external and ad-hoc callers, gRPC for high-throughput internal callers."
    if key == "registry":
        if value == "mlflow":
            return "Tracked runs, lineage and alias-based promotion and rollback shared by the team."
        return "Model files with champion and challenger aliases: rollback without running a server."
    if key == "orchestrator":
        cadence = str(answers.get("retraining_cadence", "weekly"))
        reasons = {
            "none": f"A {cadence} retrain is one pipeline command, run by cron or CI; no scheduler to operate.",
            "airflow": f"A mature scheduler with retries, backfills and alerting for the {cadence} pipeline.",
            "kubeflow": "Each step runs as a container on the Kubernetes cluster, including GPU training steps.",
            "prefect": f"Python-native flows with retries and light deployment for the {cadence} pipeline.",
        }
        return reasons.get(value, "Chosen in the answers.")
    if key == "deploy":
        if value == "kubernetes":
            if cap["serves"]:
                return f"{cap['replicas']:,} replicas at {peak:,} peak QPS need an autoscaler and rolling updates."
            return "Jobs and services share a cluster with scheduling and rolling updates."
        if cap["serves"] and peak >= AUTOSCALE_QPS:
            return f"{peak:,} peak QPS is above 1,000: Compose works to start, plan Kubernetes for autoscaling."
        return "The load fits a few containers on one host; one command starts the whole stack."
    return "Chosen in the answers."


def _section_decisions(answers: dict, cap: dict) -> list:
    rows = []
    for key, title in DECISION_TITLES.items():
        value = str(answers.get(key, ""))
        options = CHOICE_NAMES[key]
        alternatives = ", ".join(label for option, label in options.items() if option != value)
        rows.append([title, f"{_choice(key, value)} (`{value}`)", alternatives, _decision_reason(key, answers, cap)])
    lines = [f"## {SECTION_TITLES[11]}", ""]
    lines += _table(["Decision", "Chosen", "Alternatives", "Why this one"], rows)
    return lines


def design_markdown(
    answers: dict,
    facts: dict | None,
    components: list[dict],
    holds,
    assumptions: list[str] | None = None,
    inferred: dict | None = None,
) -> str:
    """Return DESIGN.md for complete answers, in the order of the design-interview framework.

    ``facts`` are the preset's facts (None for a custom use case), ``components`` the spec's
    components and ``holds`` the engine's condition check. ``inferred`` maps answer keys to the
    evidence they were inferred from. Free text is inserted as plain text.
    """
    facts = facts or None
    inferred = dict(inferred or {})
    cap = capacity(answers, facts)
    title = _text(answers.get("project_name") or "ML service")
    lines = [f"# {title}: design document", ""]
    description = _text(answers.get("description") or "")
    if description:
        lines += [description, ""]
    use_case = str(answers.get("use_case") or "custom")
    origin = "a custom use case" if use_case == "custom" or not facts else f"the `{use_case}` case study"
    lines += [
        f"Generated by mlsd from the interview answers for {origin}. Sections follow the design-interview "
        "order: requirements, framing, metrics, data, features, model, serving, capacity, experiments, "
        "operations, pitfalls and decisions.",
        "",
    ]
    prompt = _text(answers.get("interview_prompt") or "")
    if prompt:
        lines += ["Interview prompt:", "", f"> {prompt}", ""]
    sections = [
        _section_requirements(answers, facts, assumptions or [], inferred, cap),
        _section_framing(answers, facts),
        _section_metrics(answers, facts),
        _section_data(answers, facts, cap),
        _section_features(answers, facts),
        _section_model(answers, facts),
        _section_serving(answers, facts, components, holds, cap),
        _section_capacity(cap),
        _section_experiment(answers, facts, cap),
        _section_monitoring(answers, facts),
        _section_pitfalls(answers, facts),
        _section_decisions(answers, cap),
    ]
    for section in sections:
        lines += section + [""]
    return "\n".join(line.rstrip() for line in lines).rstrip("\n") + "\n"


def project_design(answers: dict, spec: dict, holds, infer=None) -> str:
    """Return the DESIGN.md of a generated project: its answers plus its preset's facts.

    With an interview prompt among the answers and ``infer`` (``mlsd.prompt.infer``), answers
    that the prompt implies are marked with the words that imply them.
    """
    facts = spec.get("preset_facts", {}).get(answers.get("use_case"))
    inferred = prompt_evidence(answers, infer)
    return design_markdown(answers, facts, spec["components"], holds, inferred=inferred)


def prompt_evidence(answers: dict, infer) -> dict:
    """Return key -> the prompt's words, for each answer equal to what the prompt implies."""
    text = str(answers.get("interview_prompt") or "")
    if not text or infer is None:
        return {}
    return {found.key: found.evidence for found in infer(text) if answers.get(found.key) == found.value}
