"""The committed OpenAPI documents match the services' code."""

from deploy import openapi


def test_committed_openapi_documents_are_fresh() -> None:
    assert openapi.main(["--check"]) == 0, "run `python -m deploy.openapi` and commit docs/openapi/"


def test_every_service_documents_health_and_the_error_shape() -> None:
    for service in openapi.SERVICES:
        doc = openapi.document(service)
        assert "/healthz" in doc["paths"], service
        assert "/readyz" in doc["paths"], service
        assert "ErrorResponse" in doc["components"]["schemas"], service
