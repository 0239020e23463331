"""Every Kafka topic of the platform: name, key, partitions and topic configuration.

``min.insync.replicas`` and the replication factor are deliberately absent: they depend on
the cluster and are decided by the deployment, not by the contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from schemas.privacy import PUBLIC_LEVELS, PersonalData

_DAY_MS = 24 * 60 * 60 * 1000

# The topic names, for code that names a topic (an event class's `topic`, subscriptions, tools):
# a constant, never a literal (tests/unit/test_service_shape.py checks).
REGISTRY_PROJECTS = "wuye.registry.projects"
INSPECTIONS_EVENTS = "wuye.inspections.events"
COMPLAINTS_EVENTS = "wuye.complaints.events"
CAMPAIGNS_EVENTS = "wuye.campaigns.events"
SURVEYS_EVENTS = "wuye.surveys.events"
NOTIFICATIONS_EVENTS = "wuye.notifications.events"
EXPOSURE_EVENTS = "wuye.exposure.events"
DRAWS_EVENTS = "wuye.inspections.draws"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    key: str
    """Name of the event field used as the Kafka key (the ordering key)."""
    description: str
    config: Mapping[str, str] = field(hash=False)
    """Kafka topic configuration (``kafka-configs`` names and string values)."""
    public: bool
    """Whether outside agencies may subscribe (published in the AsyncAPI document as such)."""
    personal_data: PersonalData = "contains"
    """What the topic carries about people (``privacy.PersonalData``): a public topic carries
    ``none`` or ``scrubbed`` free text only. In the AsyncAPI document as ``x-personal-data``."""

    def __post_init__(self) -> None:
        if self.public and self.personal_data not in PUBLIC_LEVELS:
            raise ValueError(
                f"{self.name}: a public topic carries personal data 'none' or 'scrubbed', "
                f"not {self.personal_data!r}"
            )


def _config(**entries: str) -> Mapping[str, str]:
    return MappingProxyType({name.replace("_", "."): value for name, value in entries.items()})


def _events_topic(
    name: str,
    *,
    partitions: int,
    key: str,
    description: str,
    public: bool,
    personal_data: PersonalData,
) -> TopicSpec:
    return TopicSpec(
        name=name,
        partitions=partitions,
        key=key,
        description=description,
        config=_config(cleanup_policy="delete", retention_ms=str(365 * _DAY_MS)),
        public=public,
        personal_data=personal_data,
    )


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(
        name=REGISTRY_PROJECTS,
        partitions=3,
        key="project_id",
        description=(
            "项目登记 Project registry: the current facts of every property project "
            "(enterprise, district, contracted service grade). Log-compacted: the latest record "
            "per project is kept for ever, so a new consumer rebuilds the registry by reading "
            "from the beginning."
        ),
        # Compaction never removes a record younger than an hour, so a slow consumer still sees
        # every update of a project that changes twice in quick succession.
        config=_config(cleanup_policy="compact", min_compaction_lag_ms=str(60 * 60 * 1000)),
        public=True,
        personal_data="none",
    ),
    _events_topic(
        INSPECTIONS_EVENTS,
        partitions=6,
        key="project_id",
        description=(
            "检查 Self and patrol inspections and rectification. Keyed by project so that "
            "everything about one project stays in order. Inspectors' notes, rejection "
            "reasons and the enterprise's names for its facilities are scrubbed of personal data."
        ),
        public=True,
        personal_data="scrubbed",
    ),
    _events_topic(
        COMPLAINTS_EVENTS,
        partitions=12,
        key="complaint_id",
        description=(
            "投诉 Complaints and their SLA clocks. Internal: identifies owners by account id "
            "(never name, phone, address or complaint text) and staff by id."
        ),
        public=False,
        personal_data="pseudonymous",
    ),
    _events_topic(
        CAMPAIGNS_EVENTS,
        partitions=3,
        key="campaign_id",
        description="专项行动 Campaign phases and enterprise plans.",
        public=False,
        personal_data="none",
    ),
    _events_topic(
        SURVEYS_EVENTS,
        partitions=3,
        key="survey_id",
        description=(
            "满意度调查 Owner satisfaction surveys: opened, closed with their scores, missing. "
            "Results per project are public facts; no household data travels here."
        ),
        public=True,
        personal_data="none",
    ),
    TopicSpec(
        name=DRAWS_EVENTS,
        partitions=3,
        key="draw_id",
        description=(
            "双随机抽查 Random patrol draws (双随机、一公开): each draw's inputs, seed, algorithm "
            "and result, so anyone can re-run it. Inspectors appear by staff id, never by name. "
            "The board is rebuilt from it, so it is kept as long as the exposure topic (5 years)."
        ),
        config=_config(cleanup_policy="delete", retention_ms=str(5 * 365 * _DAY_MS)),
        public=True,
        personal_data="none",
    ),
    _events_topic(
        NOTIFICATIONS_EVENTS,
        partitions=6,
        key="notice_id",
        description=(
            "通知 Notices (incl. 通报批评 circulated criticism) and their delivery. Titles, bodies "
            "and failure reasons are scrubbed of personal data."
        ),
        public=True,
        personal_data="scrubbed",
    ),
    TopicSpec(
        name=EXPOSURE_EVENTS,
        partitions=6,
        key="project_id",
        description=(
            "曝光 Every change of an exposure case: opened, evidence, review, published, "
            "rectified, withdrawn, objections. The board is rebuilt from it, so it is kept "
            "longer than the longest display period (3 years)."
        ),
        config=_config(cleanup_policy="delete", retention_ms=str(5 * 365 * _DAY_MS)),
        public=True,
        personal_data="scrubbed",
    ),
)

DEAD_LETTER_SERVICES: tuple[str, ...] = ("complaints", "inspections", "notifications", "exposure")

DEAD_LETTER_HEADERS: tuple[str, ...] = (
    "x-dlq-reason",
    "x-dlq-original-topic",
    "x-dlq-original-partition",
    "x-dlq-original-offset",
    "x-dlq-consumer",
)
"""Headers a dead-lettered record carries besides its original headers, key and value."""


def _dead_letter_spec(service: str) -> TopicSpec:
    return TopicSpec(
        name=f"wuye.dlq.{service}",
        partitions=3,
        key="(original key)",
        description=(
            f"死信 Records the {service} service could not handle, unchanged (original key, "
            "value and headers) plus x-dlq-* headers saying why and where they came from."
        ),
        config=_config(cleanup_policy="delete", retention_ms=str(30 * _DAY_MS)),
        public=False,
        personal_data="contains",
    )


DEAD_LETTER_TOPICS: tuple[TopicSpec, ...] = tuple(
    _dead_letter_spec(s) for s in DEAD_LETTER_SERVICES
)

_BY_NAME: Mapping[str, TopicSpec] = MappingProxyType(
    {t.name: t for t in TOPICS + DEAD_LETTER_TOPICS}
)


def topic(name: str) -> TopicSpec:
    """The spec of an event or dead-letter topic; ``KeyError`` for an unknown name."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown topic {name!r}") from None


def dead_letter_topic(service: str) -> TopicSpec:
    """The dead-letter topic of a consuming service; ``KeyError`` for an unknown service."""
    if service not in DEAD_LETTER_SERVICES:
        raise KeyError(
            f"no dead-letter topic for service {service!r}; known: {DEAD_LETTER_SERVICES}"
        )
    return _BY_NAME[f"wuye.dlq.{service}"]
