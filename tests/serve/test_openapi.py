"""The OpenAPI document matches reality: schemathesis drives every operation in-process (ASGI) with
generated valid and invalid inputs; no 5xx, responses and status codes as documented."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from phoneprice_edge.serve.app import create_app
from phoneprice_edge.serve.model import ServedModel
from phoneprice_edge.serve.settings import ServeSettings


@pytest.mark.slow
@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=lambda m: m.value)
def test_api_conforms_to_its_openapi_document(served: ServedModel,
                                              mode: schemathesis.GenerationMode) -> None:
    app = create_app(served, ServeSettings(max_batch=16))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # A batch over max_batch is invalid input that the API documents as 413 (body or batch over
    # the limit), a status schemathesis does not expect of negative data by default.
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = sorted(op.label for op in operations)
    assert "POST /v1/predict" in labels and "GET /metrics" in labels
    for op in operations:
        if mode == schemathesis.GenerationMode.NEGATIVE and op.label != "POST /v1/predict":
            continue  # the GET routes take no input, so there is nothing invalid to generate
        @given(case=op.as_strategy(generation_mode=mode))
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        def check(case: schemathesis.Case) -> None:
            # Random bytes of the documented binary body are "schema-valid" but are almost never
            # whole rows of in-range float32 values: the other checks (no 5xx, documented status
            # and response shape) still apply to them; test_binary.py covers valid binary bodies.
            binary = case.media_type == "application/octet-stream"
            case.call_and_validate(excluded_checks=[positive_data_acceptance] if binary else [])

        check()


def test_request_schema_is_generated_from_the_feature_schema(served: ServedModel) -> None:
    app = create_app(served, ServeSettings(max_batch=16))
    doc = app.openapi()
    body = doc["paths"]["/v1/predict"]["post"]["requestBody"]["content"]["application/json"]
    records, columnar = body["schema"]["oneOf"]
    item = records["properties"]["records"]["items"]
    assert item["required"] == served.schema.feature_names
    assert item["properties"]["ram"] == {"type": "integer", "minimum": 256, "maximum": 4000}
    assert records["properties"]["records"]["maxItems"] == 16
    assert columnar["properties"]["columns"]["const"] == served.schema.feature_names
    ram = served.schema.feature_names.index("ram")
    assert columnar["properties"]["data"]["items"]["prefixItems"][ram]["maximum"] == 4000
    for status in ("200", "400", "413", "422"):
        assert status in doc["paths"]["/v1/predict"]["post"]["responses"]
