"""Builds the AsyncAPI 3.0.0 document of every topic, message and producing operation.

Each event's JSON Schema goes into ``components/schemas`` under its ce_type, with its ``$defs``
hoisted beside it (``<ce_type>.<Def>``) so every ``$ref`` resolves inside this one document.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

from schemas import base, catalog, cloudevents, topics

Schema = dict[str, Any]

ASYNCAPI_VERSION = "3.0.0"
DOCUMENT_VERSION = "1.4.0"
"""Version of the document; bump the minor version when an event type or topic is added."""
KAFKA_BINDING_VERSION = "0.5.0"
SERVER_HOST = "kafka-bootstrap.wuye.svc:9092"
DEAD_LETTER_MESSAGE = "DeadLetter"


def document(json_schemas: dict[str, Schema]) -> Schema:
    """The AsyncAPI document, given each event's JSON Schema by ce_type."""
    component_schemas: dict[str, Schema] = {}
    messages: dict[str, Schema] = {DEAD_LETTER_MESSAGE: _dead_letter_message()}
    for ce_type, cls in catalog.EVENT_TYPES.items():
        component_schemas.update(_hoist(ce_type, json_schemas[ce_type]))
        messages[ce_type] = _message(cls, json_schemas[ce_type])
    channels: dict[str, Schema] = {}
    operations: dict[str, Schema] = {}
    for spec in topics.TOPICS:
        message_ids = [cls.ce_type for cls in catalog.events_on(spec.name)]
        channels[spec.name] = _channel(spec, message_ids)
        for service in dict.fromkeys(catalog.PRODUCERS[ce_type] for ce_type in message_ids):
            sent = [t for t in message_ids if catalog.PRODUCERS[t] == service]
            summary = f"The {service} service publishes these events through its outbox."
            operations[f"{service}.send.{spec.name}"] = _send(service, spec, sent, summary)
    for service, spec in zip(topics.DEAD_LETTER_SERVICES, topics.DEAD_LETTER_TOPICS, strict=True):
        channels[spec.name] = _channel(spec, [DEAD_LETTER_MESSAGE])
        summary = f"The {service} service dead-letters records it cannot handle, and goes on."
        operations[f"{service}.send.{spec.name}"] = _send(
            service, spec, [DEAD_LETTER_MESSAGE], summary
        )
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": (
                "天津市物业服务监管平台事件 Tianjin Property-Service Supervision Platform Events"
            ),
            "version": DOCUMENT_VERSION,
            "description": (
                "Kafka topics and events of the platform. Every record is a CloudEvents 1.0 "
                "event in binary content mode: attributes in ce_* headers, the event JSON as "
                "the value, the ordering key as the record key. Within a version events change "
                "additively only; consumers must ignore unknown fields. Channels tagged "
                "`internal` are not offered to outside agencies. `x-personal-data` on a channel "
                "says what it carries about people: none; scrubbed (free text written by people, "
                "with phone and ID-card numbers, e-mail addresses and names in common patterns masked, "
                "marked `x-personal-data: scrubbed` on each such field); pseudonymous (people's "
                "ids only); contains (anything). Public channels are none or scrubbed."
            ),
        },
        "defaultContentType": cloudevents.JSON,
        "servers": {
            "production": {
                "host": SERVER_HOST,
                "protocol": "kafka",
                "description": "Placeholder bootstrap address; the deployment sets the real one.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": component_schemas, "messages": messages},
    }


def _hoist(ce_type: str, schema: Schema) -> dict[str, Schema]:
    defs: dict[str, Schema] = schema.get("$defs", {})
    prefix = f"#/components/schemas/{ce_type}."
    hoisted = {f"{ce_type}.{name}": _rewrite_refs(body, prefix) for name, body in defs.items()}
    top = {k: v for k, v in schema.items() if k not in {"$defs", "$id", "$schema"}}
    hoisted[ce_type] = _rewrite_refs(top, prefix)
    return hoisted


def _rewrite_refs(node: Any, prefix: str) -> Any:
    if isinstance(node, dict):
        return {
            k: prefix + v.removeprefix("#/$defs/")
            if k == "$ref" and isinstance(v, str)
            else _rewrite_refs(v, prefix)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(item, prefix) for item in node]
    return node


def _message(cls: type[base.Event], schema: Schema) -> Schema:
    doc = inspect.getdoc(cls) or cls.__name__
    key_schema = {k: v for k, v in schema["properties"][cls.key_field].items() if k != "title"}
    key_schema["description"] = f"The event's {cls.key_field}, UTF-8: the ordering key."
    return {
        "name": cls.ce_type,
        "title": f"{cls.__name__} ({cls.ce_type.rsplit('.', 1)[1]})",
        "summary": doc.splitlines()[0],
        "description": f"{doc}\n\nProduced by the {catalog.PRODUCERS[cls.ce_type]} service.",
        "contentType": cloudevents.JSON,
        "headers": _ce_headers(cls.ce_type),
        "payload": {"$ref": f"#/components/schemas/{cls.ce_type}"},
        "correlationId": {
            "description": "Shared by every event caused, directly or not, by one first event.",
            "location": f"$message.header#/{cloudevents.CORRELATIONID}",
        },
        "bindings": {"kafka": {"key": key_schema, "bindingVersion": KAFKA_BINDING_VERSION}},
    }


def _ce_headers(ce_type: str | None) -> Schema:
    text: Schema = {"type": "string", "minLength": 1}
    properties: dict[str, Schema] = {
        cloudevents.ID: {
            **text,
            "description": "Event id, unique per source; consumers deduplicate on it.",
        },
        cloudevents.SOURCE: {
            **text,
            "format": "uri-reference",
            "description": "The producing service, e.g. /wuye/inspections.",
        },
        cloudevents.SPECVERSION_HEADER: {"type": "string", "const": cloudevents.SPECVERSION},
        cloudevents.TYPE: {"type": "string", "const": ce_type} if ce_type else text,
        cloudevents.TIME: {
            "type": "string",
            "format": "date-time",
            "description": "RFC 3339 time of the event.",
        },
        cloudevents.SUBJECT: {
            **text,
            "description": "What the event is about (an id), within its source.",
        },
        cloudevents.DATASCHEMA: (
            {"type": "string", "const": base.schema_uri(ce_type)}
            if ce_type
            else {**text, "format": "uri"}
        ),
        cloudevents.CORRELATIONID: {
            **text,
            "description": "Extension: id of the first event of the chain.",
        },
        cloudevents.CAUSATIONID: {
            **text,
            "description": "Extension: id of the event that caused this one.",
        },
        cloudevents.CONTENT_TYPE: {"type": "string", "const": cloudevents.JSON}
        if ce_type
        else text,
    }
    required = list(cloudevents.REQUIRED_HEADERS) if ce_type else []
    return {"type": "object", "properties": properties, "required": required}


def _dead_letter_message() -> Schema:
    headers = _ce_headers(None)
    text: Schema = {"type": "string", "minLength": 1}
    decimal: Schema = {"type": "string", "pattern": "^[0-9]+$"}
    headers["properties"] = {
        "x-dlq-reason": {**text, "description": "Why the consumer could not handle the record."},
        "x-dlq-original-topic": {**text, "description": "Topic the record was read from."},
        "x-dlq-original-partition": {**decimal, "description": "Its partition, in decimal."},
        "x-dlq-original-offset": {**decimal, "description": "Its offset, in decimal."},
        "x-dlq-consumer": {
            **text,
            "description": "The consumer (service and handler) that gave up.",
        },
        **headers["properties"],
    }
    headers["required"] = list(topics.DEAD_LETTER_HEADERS)
    headers["description"] = (
        "The x-dlq-* headers, plus the original record's headers (any, possibly invalid)."
    )
    return {
        "name": DEAD_LETTER_MESSAGE,
        "title": "Dead letter 死信",
        "summary": "A record a consumer could not handle, unchanged, with the reason.",
        "contentType": "application/octet-stream",
        "headers": headers,
        "payload": {
            "description": "The original record value, byte for byte (may be malformed or empty)."
        },
        "bindings": {
            "kafka": {
                "key": {"description": "The original record key, unchanged."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _channel(spec: topics.TopicSpec, message_ids: Iterable[str]) -> Schema:
    personal_data = (
        f"\n\nPersonal data: {catalog.personal_data_note(spec.name)}."
        if spec in topics.TOPICS
        else "\n\nPersonal data: contains (the original records, unchanged)."
    )
    topic_config: Schema = {}
    for name, value in spec.config.items():
        if name == "cleanup.policy":
            topic_config[name] = value.split(",")
        else:
            topic_config[name] = int(value) if value.isdigit() else value
    return {
        "address": spec.name,
        "title": spec.name,
        "description": (
            f"{spec.description}\n\nKafka key: {spec.key}. Partitions: {spec.partitions}."
            + personal_data
        ),
        "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in message_ids},
        "tags": [{"name": "public" if spec.public else "internal"}],
        "x-personal-data": spec.personal_data,
        "bindings": {
            "kafka": {
                "topic": spec.name,
                "partitions": spec.partitions,
                "topicConfiguration": topic_config,
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _send(service: str, spec: topics.TopicSpec, message_ids: list[str], summary: str) -> Schema:
    return {
        "action": "send",
        "channel": {"$ref": f"#/channels/{spec.name}"},
        "title": f"{service} publishes to {spec.name}",
        "summary": summary,
        "messages": [{"$ref": f"#/channels/{spec.name}/messages/{m}"} for m in message_ids],
    }
