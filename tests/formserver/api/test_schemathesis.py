"""Schemathesis against the API's own OpenAPI document, in process (WSGI), on SQLite and PostgreSQL: requests
generated from the schema, valid ones and invalid ones, must never answer 5xx nor break the document (status
codes, content types and response bodies as documented). Bounded by EXAMPLES per operation and mode, so it
finishes in a minute or two; the number of cases tried is printed (`pytest -s`)."""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.formserver.api.test_api import make_token

pytestmark = [pytest.mark.usefixtures("cheap_passwords"), pytest.mark.slow]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 150


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=lambda m: m.value)
def test_the_api_keeps_its_document(app, mode, monkeypatch):
    # Schema-valid dates of any year: a date window cannot be said in JSON Schema, and with it nearly every
    # generated submission would stop at its date instead of reaching the code beyond.
    monkeypatch.setitem(app.config, "DATE_EARLIEST", "0001-01-01")
    monkeypatch.setitem(app.config, "DATE_LATEST", "9999-12-31")
    headers = {"Authorization": f"Bearer {make_token(app, 'fuzz', role='manager')}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=headers)
    answers: Counter[str] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                         HealthCheck.data_too_large])
        def check(case):
            response = case.call_and_validate(headers=headers, checks=CHECKS)
            answers[f"{case.method} {case.path} {response.status_code}"] += 1

        check()
    print(f"schemathesis ({mode.value}): {answers.total()} cases: {dict(sorted(answers.items()))}")
    assert answers.total() >= EXAMPLES
