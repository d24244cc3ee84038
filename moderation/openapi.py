"""The OpenAPI 3 document of the native API, built from the same tables the code uses."""

from __future__ import annotations

from functools import cache
from typing import Any

from moderation.comments import LABELS
from moderation.policy import VERDICTS
from moderation.schema import FIELDS, ID_PATTERN, MAX_BATCH, FieldSpec


def _field_schema(spec: FieldSpec) -> dict[str, Any]:
    if spec.kind == "boolean":
        return {"type": "boolean", "description": spec.description}
    schema: dict[str, Any] = {
        "type": "string",
        "maxLength": spec.max_length,
        "description": spec.description,
    }
    if spec.kind == "id":
        return {
            "oneOf": [{**schema, "pattern": ID_PATTERN}, {"type": "integer", "minimum": 0}],
            "description": spec.description,
        }
    if spec.kind == "ip":
        schema["format"] = "ip"
    if spec.kind == "datetime":
        schema["format"] = "date-time"
    if spec.name == "content":
        schema["minLength"] = 1
    return schema


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(ref: str, description: str = "OK") -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


_ERRORS = {
    "400": _error("Invalid input; error.field names the field"),
    "401": _error("Missing, unknown or revoked site key"),
    "413": _error("Body larger than MAX_BODY_BYTES"),
    "503": _error("Redis unavailable; retry after Retry-After seconds"),
}
_ID_PARAM = {
    "name": "comment_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": ID_PATTERN},
}


@cache
def document() -> dict[str, Any]:
    nullable_number = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Comment moderation API", "version": "1"},
        "components": {
            "securitySchemes": {"siteKey": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Comment": {
                    "type": "object",
                    "required": ["content"],
                    "properties": {spec.name: _field_schema(spec) for spec in FIELDS},
                    "additionalProperties": True,
                },
                "Reason": {
                    "type": "object",
                    "required": ["code", "detail"],
                    "properties": {
                        "code": {"type": "string"},
                        "detail": {"type": "string"},
                        "weight": {"type": "number"},
                    },
                },
                "Result": {
                    "type": "object",
                    "required": [
                        "id",
                        "verdict",
                        "score",
                        "discard",
                        "source",
                        "model_version",
                        "reasons",
                        "status",
                        "status_source",
                        "checked_at",
                    ],
                    "properties": {
                        "id": {"type": "string"},
                        "verdict": {"enum": list(VERDICTS)},
                        "score": {**nullable_number, "description": "Calibrated P(spam)"},
                        "discard": {"type": "boolean"},
                        "source": {"enum": ["rules", "model", "akismet"]},
                        "model_version": {"type": ["string", "null"]},
                        "reasons": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"$ref": "#/components/schemas/Reason"},
                        },
                        "review_id": {"type": "string"},
                        "status": {"enum": ["ham", "spam", "pending"]},
                        "status_source": {"enum": ["check", "feedback", "moderator"]},
                        "checked_at": {"type": "string", "format": "date-time"},
                        "changed": {"type": "boolean"},
                        "akismet": {
                            "type": "object",
                            "description": "Akismet's answer, when it was asked",
                            "required": ["answer", "detail"],
                            "properties": {
                                "answer": {"type": "string"},
                                "detail": {"type": "string"},
                                "latency_ms": {"type": "number"},
                            },
                        },
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "field": {"type": "string"},
                            },
                        }
                    },
                },
            },
        },
        "security": [{"siteKey": []}],
        "paths": {
            "/api/v1/comments/check": {
                "post": {
                    "summary": "Check one comment",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Comment"}}
                        },
                    },
                    "responses": {"200": _json("Result"), **_ERRORS},
                }
            },
            "/api/v1/comments/check-batch": {
                "post": {
                    "summary": f"Check up to {MAX_BATCH} comments",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["comments"],
                                    "properties": {
                                        "comments": {
                                            "type": "array",
                                            "minItems": 1,
                                            "maxItems": MAX_BATCH,
                                            "items": {"$ref": "#/components/schemas/Comment"},
                                        }
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "One result per comment, in order",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["results"],
                                        "properties": {
                                            "results": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/Result"},
                                            }
                                        },
                                    }
                                }
                            },
                        },
                        **_ERRORS,
                    },
                }
            },
            "/api/v1/comments/{comment_id}": {
                "get": {
                    "summary": "Current status of a checked comment",
                    "parameters": [_ID_PARAM],
                    "responses": {
                        "200": _json("Result"),
                        "404": _error("No such comment"),
                        **_ERRORS,
                    },
                }
            },
            "/api/v1/comments/{comment_id}/feedback": {
                "post": {
                    "summary": "The blog's own verdict: becomes a training label",
                    "parameters": [_ID_PARAM],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["label"],
                                    "properties": {"label": {"enum": list(LABELS)}},
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json("Result"),
                        "404": _error("No such comment"),
                        **_ERRORS,
                    },
                }
            },
        },
    }
