"""One typed settings object: defaults < configs/<env>.yaml < environment < arguments.

Reads ``configs/<env>.yaml`` and environment variables named ``ENV_PREFIX`` + the setting in
upper case (``<ENV_PREFIX>ENV`` picks the config, default ``local``). Every path the project
writes (data, features, registry, logs) lives under ``var_dir``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import {% if cookiecutter.experiment == 'ab' %}BaseModel, {% endif %}Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

ENV_PREFIX = "{{ cookiecutter.package_name | upper }}_"
{%- if cookiecutter.experiment == 'ab' %}


class Guardrail(BaseModel):
    """A metric of the outcomes file that must not get worse for a "ship" verdict."""

    model_config = {"frozen": True, "extra": "forbid"}

    metric: str
    higher_is_better: bool = False
    max_regression: float = Field(0.0, ge=0.0)
    """Allowed regression relative to control (0.05: 5% worse); blocks only when significant."""
{%- endif %}


def project_root() -> Path:
    """Return the project folder: ``$PREFIX_ROOT``, the source checkout, or the cwd."""
    configured = os.environ.get(f"{ENV_PREFIX}ROOT")
    if configured:
        return Path(configured)
    checkout = Path(__file__).resolve().parents[2]
    return checkout if (checkout / "configs").is_dir() else Path.cwd()


class Settings(BaseSettings):
    """Everything that differs between a laptop and production; code paths do not."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True
    )

    env: str = "local"
    root: Path = Field(default_factory=project_root)
    var_dir: Path = Path("var")
    seed: int = 7
    n_users: int = Field(2000, ge=10)
    n_items: int = Field(300, ge=10)
    n_events: int = Field(20000, ge=100)
    bad_record_rate: float = Field(0.01, ge=0.0, le=0.5)

    batch_engine: Literal["duckdb", "spark"] = "duckdb"
    spark_master: str = "local[*]"
    """``local[*]`` runs Spark in this process; ``spark://host:7077`` (or ``yarn``, ``k8s://...``)."""
    spark_app_name: str = "{{ cookiecutter.project_slug }}"
    spark_shuffle_partitions: int = Field(4, ge=1)
    """Shuffle partitions of local runs (Spark's 200 suit a cluster, not a laptop)."""
    stream_engine: Literal["none", "embedded", "kafka", "flink"] = "{{ 'none' if cookiecutter.stream_engine == 'none' else 'embedded' }}"
    kafka_bootstrap: str = "localhost:9092"
    kafka_topic: str = "{{ cookiecutter.project_slug }}-events"
    kafka_group: str = "{{ cookiecutter.project_slug }}"
    kafka_timeout_s: float = Field(60.0, gt=0.0)
    """Bound on one Kafka ``stream`` run: the group join, then each partition read to its end."""
    kafka_session_timeout_ms: int = Field(45_000, ge=1_000)
    """Consumer-group session timeout; a lone consumer's join can wait for half of it."""
    kafka_dead_letter_topic: str = ""
    """Kafka topic of rejected events (reason, source in headers); empty: ``<topic>.dlq``."""
    stream_poll_s: float = Field(1.0, gt=0.0, le=60.0)
    """``stream --follow`` waits this long for new events before polling again."""
    stream_batch_size: int = Field(100, ge=1)
    """Events applied (and their offsets committed) together."""
    feature_store: Literal["none", "feast"] = "{{ cookiecutter.feature_store }}"
    """``none``: the built-in store (Parquet offline, SQLite online), the answer's own token."""
    online_store: Literal["sqlite", "redis"] = "sqlite"
    redis_url: str = "redis://localhost:6379/0"
    feature_store_fallback: Literal["defaults", "error"] = "error"
    """When the online store fails: ``error`` answers 503, ``defaults`` scores the row with
    ``schema.FALLBACK_VALUES`` for its user and item features; both are counted in metrics."""

    trainer: Literal["sklearn", "{{ cookiecutter.trainer }}"] = "{{ cookiecutter.trainer }}"
    registry: Literal["local", "mlflow"] = "{{ cookiecutter.registry }}"
    mlflow_tracking_uri: str = ""
    model_name: str = "{{ cookiecutter.package_name }}"

    serve_host: str = "127.0.0.1"
    serve_port: int = 8000
    grpc_port: int = 50051
    metrics_port: int = 9100
    """Prometheus ``/metrics`` of the gRPC server (the REST API serves it on its own port)."""
    max_body_bytes: int = 1_048_576
    max_batch_size: int = 1000
    reload_interval_s: float = Field(2.0, ge=0.0)
    """Serving polls the registry this often and swaps in a newly promoted model (0: never)."""
    top_k: int = 10
{%- if cookiecutter.serving != 'none' %}
    auth_required: bool = True
    """Prediction calls need an API key (``serving/auth.py``); configs/local.yaml turns it off."""
    api_keys: SecretStr = SecretStr("")
    """Keys accepted on prediction calls, comma-separated (two while rotating one)."""
    admin_token: SecretStr = SecretStr("")
    """Token of admin operations (model reload), needed even locally; empty: they are refused."""
{%- endif %}
{%- if cookiecutter.serving in ['rest', 'rest+grpc'] %}
    cors_origins: list[str] = Field(default_factory=list)
    """Browser origins allowed to call the REST API (env: a JSON list); empty: no CORS at all."""
{%- endif %}

    experiment: Literal["none", "ab", "shadow"] = "{{ cookiecutter.experiment }}"
    experiment_salt: str = "{{ cookiecutter.package_name }}-exp-1"
    treatment_share: float = Field(0.5, gt=0.0, lt=1.0)
{%- if cookiecutter.experiment == 'ab' %}
    experiment_alpha: float = Field(0.05, gt=0.0, lt=0.5)
    experiment_metric: str = "converted"
    """The primary metric: a column of the outcomes file that decides the verdict."""
    experiment_metric_higher_is_better: bool = True
    experiment_guardrails: tuple[Guardrail, ...] = (
        Guardrail(metric="latency_ms", higher_is_better=False, max_regression=0.05),
    )
{%- endif %}
{%- if cookiecutter.experiment == 'shadow' %}
    shadow_queue_size: int = Field(1000, ge=1)
    """Requests waiting for the shadow model; when full, more are dropped and counted."""
{%- endif %}
    pseudonym_key: SecretStr = SecretStr("")
{%- if cookiecutter.contains_pii %}
    """Key of the person-id pseudonyms (``privacy.py``); from the environment only."""
{%- else %}
    """Key of person-id pseudonyms (``privacy.py``); unused: the data holds no PII."""
{%- endif %}
    pseudonym_key_autocreate: bool = True
    """Without ``pseudonym_key``, create a random one in var/secrets (production.yaml: false)."""
    retention_days: int = Field({{ 30 if cookiecutter.contains_pii else 365 }}, ge=1)
    """``purge`` deletes raw events, log rows, stream sink rows and dead letters older than this."""
    prediction_log_rows: int = Field(1_000_000, ge=1_000)
    """Served rows the prediction log keeps (a ring file, ~120 bytes a row for 10 features)."""
    psi_warn: float = Field(0.1, gt=0.0)
    psi_alert: float = Field(0.25, gt=0.0)
    """``monitor`` exits 3 when a feature's or the score's PSI reaches it."""
    drift_min_rows: int = Field(200, ge=1)
    """Fewer logged rows: the drift report says insufficient data (``monitor`` exits 4)."""
    drift_window_rows: int = Field(100_000, ge=1)
    """The drift report compares the newest this many logged rows with the training data."""
    evidently_report: bool = True
    """``monitor`` also writes Evidently's HTML + JSON data drift report (slower: ~10 s)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        explicit = getattr(init_settings, "init_kwargs", {})
        env = explicit.get("env") or os.environ.get(f"{ENV_PREFIX}ENV", "local")
        root = Path(explicit.get("root") or os.environ.get(f"{ENV_PREFIX}ROOT") or project_root())
        config = YamlConfigSettingsSource(settings_cls, yaml_file=root / "configs" / f"{env}.yaml")
        return init_settings, env_settings, dotenv_settings, config

    @property
    def var(self) -> Path:
        """Return the folder that holds everything the project writes."""
        return self.var_dir if self.var_dir.is_absolute() else self.root / self.var_dir

    def directory(self, *parts: str) -> Path:
        """Return a folder under ``var_dir``, created when missing."""
        target = self.var.joinpath(*parts)
        target.mkdir(parents=True, exist_ok=True)
        return target


def load_settings(env: str | None = None, **overrides: object) -> Settings:
    """Return the settings for ``env`` (default: ``$PREFIX_ENV`` or local) with overrides."""
    if env is not None:
        overrides["env"] = env
    return Settings(**overrides)
