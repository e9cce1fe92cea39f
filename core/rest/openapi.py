"""The API's OpenAPI 3.1 document, made from the operations the app has (the core's and
every enabled plugin's), with apispec and the operations' marshmallow schemas."""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app

STATUS_TEXT = {200: "OK", 201: "Created", 400: "The request is not valid",
               401: "No valid token", 403: "The token may not do this",
               404: "Not found", 409: "Refused", 429: "Too many requests"}
_ARGUMENT = re.compile(r"<(?:(?P<converter>[a-z]+):)?(?P<name>\w+)>")


def _path_and_parameters(rule: str) -> tuple[str, list[dict[str, Any]]]:
    parameters = []
    for match in _ARGUMENT.finditer(rule):
        schema: dict[str, Any] = ({"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
                                  if match["converter"] == "int" else {"type": "string"})
        parameters.append({"name": match["name"], "in": "path", "required": True,
                           "schema": schema})
    return _ARGUMENT.sub(lambda m: "{" + m["name"] + "}", rule), parameters


def _schema_name(schema: Any) -> str:
    return type(schema).__name__.removesuffix("Schema") or type(schema).__name__


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API as this app has it."""
    from core.rest import OPERATION_ATTR, ErrorSchema

    app = current_app
    plugin = MarshmallowPlugin(schema_name_resolver=_schema_name)
    spec = APISpec(title=f"{app.config.get('BRAND_NAME', 'Commonwatch')} API", version="1",
                   openapi_version="3.1.0", plugins=[plugin],
                   info={"description": "Community alerts: your profile, your messages and "
                                        "replies, and for staff, sending messages. "
                                        "Authenticate with a personal access token."},
                   servers=[{"url": app.config.get("BASE_URL", "/").rstrip("/")}])
    spec.components.security_scheme("token", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", schema=ErrorSchema)
    by_path: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions.get(rule.endpoint)
        op = getattr(view, OPERATION_ATTR, None)
        if op is None:
            continue
        path, parameters = _path_and_parameters(rule.rule)
        if op.query is not None:
            parameters.append({"in": "query", "schema": op.query})
        responses: dict[str, Any] = {}
        if op.response is not None:
            responses[str(op.status)] = {"description": STATUS_TEXT.get(op.status, "OK"),
                                         "content": {"application/json": {
                                             "schema": op.response}}}
        else:
            responses[str(op.status)] = {"description": STATUS_TEXT.get(op.status, "OK"),
                                         "content": {"application/json": {
                                             "schema": {"type": "object"}}}}
        for status in op.errors:
            responses[str(status)] = {"description": STATUS_TEXT[status],
                                      "content": {"application/json": {
                                          "schema": "Error"}}}
        entry: dict[str, Any] = {"summary": op.summary, "operationId": rule.endpoint,
                                 "tags": op.tags, "parameters": parameters,
                                 "responses": responses}
        if op.scope is not None:
            entry["security"] = [{"token": []}]
            entry["description"] = (f"Needs a token with the `{op.scope}` scope"
                                    + {"member": ", of a resident.",
                                       "staff": ", of a staff member."}.get(op.who, "."))
        else:
            entry["security"] = []
        if op.body is not None:
            entry["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": op.body}}}
        by_path.setdefault(path, {})[op.method] = entry
    for path, operations in by_path.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
