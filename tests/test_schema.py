"""The OpenAPI schema generates without warnings, and the docs pages are served offline."""

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_openapi_schema_generates_without_warnings(tmp_path, capsys):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(out))
    text = out.read_text()
    assert "/api/v1/schools/{id}/periods/" in text
    assert "/api/v1/me/" in text


@pytest.mark.django_db
def test_api_docs_page_uses_the_local_sidecar(client, django_user_model):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"drf_spectacular_sidecar/swagger-ui-dist" in response.content
    assert client.get("/api/schema/").status_code == 200


@pytest.mark.django_db
def test_home_page_renders_in_both_languages(client):
    zh = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    en = client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert zh.status_code == en.status_code == 200
    assert "Harbin education resource sharing centre" in en.content.decode()
    assert "哈尔滨" in zh.content.decode()
