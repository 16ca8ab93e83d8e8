"""The API's documented shapes: pydantic response models and the request body schema, which is
generated from the served model's FeatureSchema so that the OpenAPI document matches the checks."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from phoneprice_edge.schema import FeatureSchema
from phoneprice_edge.serve.settings import ServeSettings


class ModelRef(BaseModel):
    id: str = Field(description="first 12 hex digits of the sha256 over the artifact's files")
    version: str
    target: str | None
    precision: str | None


class Prediction(BaseModel):
    class_index: int
    class_name: str
    probabilities: list[float] = Field(description="one per class, in the order of `classes`")


class IssueModel(BaseModel):
    index: int | None = Field(description="record (row) index in the request, null for the body")
    field: str | None
    message: str


class PredictResponse(BaseModel):
    request_id: str
    model: ModelRef
    classes: list[str]
    predictions: list[Prediction]
    warnings: list[IssueModel] = Field(description="out-of-range values (--out-of-range warn)")


class ErrorBody(BaseModel):
    code: str
    message: str
    issues: list[IssueModel]


class ErrorResponse(BaseModel):
    error: ErrorBody


class Status(BaseModel):
    status: str


class ModelInfo(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    version: str
    target: str | None
    precision: str | None
    format: str | None
    backend: str
    device: str
    source_checkpoint_sha256: str | None
    files: dict[str, str]
    versions: dict[str, str]
    features: list[str]
    classes: list[str]
    parity: dict[str, Any] | None
    feature_schema: dict[str, Any] = Field(alias="schema")
    limits: dict[str, Any]


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "malformed JSON"},
    401: {"model": ErrorResponse, "description": "missing or wrong API key"},
    413: {"model": ErrorResponse, "description": "body or batch over the limit"},
    415: {"model": ErrorResponse, "description": "a Content-Type other than application/json "
                                                 "or application/octet-stream"},
    422: {"model": ErrorResponse, "description": "a record or field that fails the schema"},
    504: {"model": ErrorResponse, "description": "request timed out"},
}


BINARY_SCHEMA = {"type": "string", "format": "binary"}
PREDICT_200: dict[str, Any] = {
    "model": PredictResponse,
    "description": "JSON; or, with `Accept: application/octet-stream`, N x C little-endian float32 "
                   "probabilities then N int32 class indices (headers X-PE-Rows, X-PE-Classes, "
                   "X-PE-Model-Id, X-PE-Warnings)",
    "content": {"application/octet-stream": {"schema": BINARY_SCHEMA}}}


def request_body_schema(schema: FeatureSchema, settings: ServeSettings) -> dict[str, Any]:
    """JSON Schema of POST /v1/predict: records, or columns + data (the fast path for batches)."""
    strict = settings.out_of_range == "error"
    names = schema.feature_names
    props: dict[str, Any] = {}
    for f in schema.features:
        p: dict[str, Any] = {"type": "integer" if strict and f.kind != "float" else "number"}
        if strict and f.min is not None:
            p["minimum"] = f.min
        if strict and f.max is not None:
            p["maximum"] = f.max
        props[f.name] = p
    record = {"type": "object", "properties": props, "required": names,
              "additionalProperties": False}
    records = {"title": "RecordsPayload", "type": "object", "required": ["records"],
               "additionalProperties": False,
               "properties": {"records": {"type": "array", "items": record, "minItems": 1,
                                          "maxItems": settings.max_batch}}}
    row = {"type": "array", "prefixItems": [props[n] for n in names], "items": False,
           "minItems": len(names), "maxItems": len(names)}
    columnar = {"title": "ColumnarPayload", "type": "object", "required": ["columns", "data"],
                "additionalProperties": False,
                "description": "`columns` lists the features in the schema's order (GET /v1/model)",
                "properties": {
                    "columns": {"type": "array", "const": names},
                    "data": {"type": "array", "items": row, "minItems": 1,
                             "maxItems": settings.max_batch}}}
    example = {"records": [{f.name: _example(f.min, f.max, f.kind) for f in schema.features}]}
    return {"required": True, "description": _binary_doc(names, settings), "content": {
        "application/json": {"schema": {"oneOf": [records, columnar]}, "example": example},
        "application/octet-stream": {"schema": BINARY_SCHEMA}}}


def _binary_doc(names: list[str], settings: ServeSettings) -> str:
    f = len(names)
    return ("JSON (records, or columns + data), or `application/octet-stream`: N rows of "
            f"{f} little-endian float32 values ({4 * f} bytes a row, N = bytes / {4 * f}, "
            f"1 <= N <= {settings.max_batch}), row-major, the features in this order (as in "
            f"GET /v1/model): {', '.join(names)}. The same checks as JSON (finite, in range, "
            "whole numbers where the schema says so) and the same 4xx errors.")


def _example(lo: float | None, hi: float | None, kind: str) -> float | int:
    v = ((lo or 0.0) + (hi if hi is not None else (lo or 0.0))) / 2.0
    return round(v) if kind != "float" else round(v, 2)
