"""The OpenAPI 3.1 document of the JSON API, with a JSON Schema of each form's values generated from its
definition (the same one the web form and the validation are built from)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from formserver.base.config import DEFAULTS
from formserver.base.inputs import NUMBER_PATTERN, VISIBLE_PATTERN
from formserver.forms.webforms import MAX_ROWS, NUMBER_LIMIT, TEXT_MAX, TEXTAREA_MAX
from handbook import conditions
from handbook.formmodel import Condition, Form, Item
from handbook.kinds import CHECK_VALUES, YESNO_VALUES


# Numbers, dates and times as formserver.base.inputs reads them: full-width digits (Chinese input methods) are
# read as ASCII; `1_000`, thousands separators and digits of other scripts are not numbers.
def _digits(ascii_range: str) -> str:
    """A character class of ASCII digits in `ascii_range` ("0-9", "12") and their full-width forms."""
    wide = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in ascii_range)
    return f"[{ascii_range}{wide}]"


_D = _digits("0-9")
_DAY = (f"{_digits('1-9')}{_D}{{3}}[-－]({_digits('0')}{_digits('1-9')}|{_digits('1')}{_digits('0-2')})[-－]"
        f"({_digits('0')}{_digits('1-9')}|{_digits('12')}{_D}|{_digits('3')}{_digits('01')})")
_TIME = f"({_digits('01')}{_D}|{_digits('2')}{_digits('0-3')})[:：]{_digits('0-5')}{_D}"
DATE_PATTERN = f"^{_DAY}$"
TIME_PATTERN = f"^{_TIME}$"
DATETIME_PATTERN = f"^{_DAY}[T ]{_TIME}$"
NUMBER_TEXT = "数字,或写成文字的十进制数(可用全角数字;不接受 1_000、千位分隔符和其他文字的数字)"
MOMENT_TEXT = "可用全角数字"


def _window_text(item: Item) -> str:
    if item.earliest or item.latest:
        earliest, latest = item.earliest or DEFAULTS["DATE_EARLIEST"], item.latest or DEFAULTS["DATE_LATEST"]
        return f"日期范围 {earliest} 至 {latest}(相对填表当天)"
    return "日期须在服务器设定的范围内(默认填表当天前 2 年至后 1 年)"


def _number(item: Item) -> dict[str, Any]:
    number: dict[str, Any] = {"type": "number"}
    if item.min is not None:
        number["minimum"] = item.min
    else:
        number["exclusiveMinimum"] = -int(NUMBER_LIMIT)
    if item.max is not None:
        number["maximum"] = item.max
    else:
        number["exclusiveMaximum"] = int(NUMBER_LIMIT)
    return {"anyOf": [number, {"type": "string", "pattern": NUMBER_PATTERN}], "description": NUMBER_TEXT}


def _moment(pattern: str) -> Callable[[Item], dict[str, Any]]:
    return lambda item: {"type": "string", "pattern": pattern, "description": f"{MOMENT_TEXT};{_window_text(item)}"}


def _text(maximum: int) -> Callable[[Item], dict[str, Any]]:
    def schema(item: Item) -> dict[str, Any]:
        text: dict[str, Any] = {"type": "string", "maxLength": item.max_length or maximum}
        if item.required:
            text["pattern"] = VISIBLE_PATTERN  # not blank once stripped of spaces and invisible characters
        return text
    return schema


def _choice(item: Item) -> dict[str, Any]:
    if item.multiple:
        return {"type": "array", "items": {"enum": item.options}, "uniqueItems": True}
    return {"enum": item.options}


def _register(item: Item) -> dict[str, Any]:
    schema = {"type": "array", "maxItems": MAX_ROWS, "items": {**_object(item.columns), "minProperties": 1}}
    if item.required:
        schema["minItems"] = 1
    return schema


_PHOTO_IDS = {"type": "array", "items": {"type": "string", "format": "uuid"}}
_DRAWING = {"type": "string", "format": "uuid", "title": "手写签名图片",
            "description": "已存的手写签名(PNG)的编号;也可在签名项中以 image 直接发送图片"}
DRAWING_TEXT = ("签名人姓名;或对象 {\"name\": 姓名, \"image\": \"data:image/png;base64,…\"} 同时发送手写签名"
                "(PNG,不超过 200 KB、2000×1000 像素)。API 不要求手写图片,网页表单的必填签名须手写")


def _signature(item: Item) -> dict[str, Any]:
    name = _text(TEXT_MAX)(item)
    drawn = {"type": "object", "additionalProperties": False, "required": ["name"],
             "properties": {"name": name, "image": {"type": "string", "pattern": "^data:image/png;base64,",
                                                    "contentMediaType": "image/png"}}}
    return {"anyOf": [name, drawn], "description": DRAWING_TEXT}

# The JSON Schema of each item kind: one entry per kind of handbook.kinds.ITEM_KINDS (a test checks the keys).
SCHEMAS: dict[str, Callable[[Item], dict[str, Any]]] = {
    "check": lambda item: {"enum": list(CHECK_VALUES)},
    "yesno": lambda item: {"enum": list(YESNO_VALUES)},
    "text": _text(TEXT_MAX),
    "person": _text(TEXT_MAX),
    "signature": _signature,
    "textarea": _text(TEXTAREA_MAX),
    "number": _number,
    "date": _moment(DATE_PATTERN),
    "time": lambda item: {"type": "string", "pattern": TIME_PATTERN, "description": MOMENT_TEXT},
    "datetime": _moment(DATETIME_PATTERN),
    "choice": _choice,
    "photo": lambda item: dict(_PHOTO_IDS),
    "table": _register,
}


def item_schema(item: Item) -> dict[str, Any]:
    schema = SCHEMAS[item.kind](item)
    schema["title"] = item.label
    if item.help:
        schema["description"] = f"{item.help}({schema['description']})" if "description" in schema else item.help
    return schema


def _object(items: Iterable[Item]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required = []
    for item in items:
        properties[item.id] = item_schema(item)
        if item.kind == "check":
            properties[f"{item.id}_note"] = {"type": "string", "maxLength": TEXT_MAX,
                                             "title": f"{item.label}(说明)", "description": "选“异常”时必填"}
            properties[f"{item.id}_photos"] = dict(_PHOTO_IDS)
        if item.kind == "signature":
            properties[f"{item.id}_image"] = dict(_DRAWING)
        if item.required:
            required.append(item.id)
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def values_schema(form: Form) -> dict[str, Any]:
    logic = {item.id: c for item, c in conditions.conditioned(form) if c}
    items = [dataclasses.replace(item, required=False) if item.id in logic else item for item in form.all_items()]
    schema = _object(items)
    schema["title"] = f"{form.title}({form.number} 第 {form.revision} 版)"
    if logic:
        _add_logic(form, schema, logic)
    return schema


# -- show_when ----------------------------------------------------------------------------------------
# An item its conditions hide may be sent (the server drops it unread), so its property stays as it is; what a
# required item's condition adds is that it is then required, with the constraints of a required item.


def _add_logic(form: Form, schema: dict[str, Any], logic: dict[str, list[Condition]]) -> None:
    by_id = {item.id: item for item in form.all_items()}
    rules = []
    for item_id, item_conditions in logic.items():
        item = by_id[item_id]
        text = "若" + ",且".join(conditions.phrase(c, by_id) for c in item_conditions) + "时填写,否则不保存"
        prop = schema["properties"][item_id]
        before = prop.get("description", "")
        prop["description"] = before + ("" if not before or before.endswith("。") else ";") + text
        if item.required:
            rules.append({"if": _shown(item_id, logic, by_id), "then": {
                "required": [item_id], "properties": {item_id: item_schema(item)}}})
    if rules:
        schema["allOf"] = rules


def _shown(item_id: str, logic: dict[str, list[Condition]], by_id: dict[str, Item]) -> dict[str, Any]:
    """A schema the values match exactly when they show the item (conditions look back, so this ends)."""
    parts = [_holds(c, logic, by_id) for c in logic.get(item_id, [])]
    return parts[0] if len(parts) == 1 else {"allOf": parts}


def _holds(condition: Condition, logic: dict[str, list[Condition]], by_id: dict[str, Item]) -> dict[str, Any]:
    if condition.op in ("all", "any"):
        return {f"{condition.op}Of": [_holds(p, logic, by_id) for p in condition.parts]}
    item = by_id[condition.item]
    answer = {"contains": {"enum": condition.values}} if item.multiple else {"enum": condition.values}
    given: dict[str, Any] = {"required": [item.id], "properties": {item.id: answer}}
    if item.id in logic:  # a hidden item counts as unanswered
        given = {"allOf": [_shown(item.id, logic, by_id), given]}
    return {"not": given} if condition.op == "is_not" else given


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def openapi_document(forms: Iterable[Form]) -> dict[str, Any]:
    forms = list(forms)
    submission_new = {
        "oneOf": [{
            "type": "object", "title": form.title, "required": ["form", "submission_id", "values"],
            "additionalProperties": False,
            "properties": {"form": {"const": form.id},
                           "submission_id": {"type": "string", "format": "uuid",
                                             "description": "客户端生成;重试时保持不变(幂等)"},
                           "values": {"$ref": f"#/components/schemas/values-{form.id}"}},
        } for form in forms],
    }
    submission = {"type": "object", "properties": {
        "submission_id": {"type": "string", "format": "uuid"}, "form": {"type": "string"},
        "form_revision": {"type": "string"}, "user": {"type": "string"}, "team": {"type": "string"},
        "record_date": {"type": "string", "format": "date"}, "status": {"enum": ["submitted", "deleted"]},
        "revision": {"type": "integer"}, "created_at": {"type": "string", "format": "date-time"},
        "values": {"type": "object"}, "url": {"type": "string"},
        "score": {"type": ["number", "null"], "description": "表单的计分(如巡查合格率,百分数);表单不计分时为 null"}}}
    schemas: dict[str, Any] = {
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["status", "message"],
            "properties": {"status": {"type": "integer"}, "message": {"type": "string"},
                           "fields": {"type": "object", "additionalProperties": {
                               "type": "array", "items": {"type": "string"}}}}}}},
        "NewSubmission": submission_new,
        "Submission": submission,
    }
    for form in forms:
        schemas[f"values-{form.id}"] = values_schema(form)
    unauthorized = _error("缺少或无效的 API 令牌")
    return {
        "openapi": "3.1.0",
        "info": {"title": "客服制度手册 表单服务 API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": schemas},
        "paths": {
            "/forms": {"get": {"summary": "表单列表", "responses": {
                "200": {"description": "表单列表", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"forms": {"type": "array", "items": {"type": "object"}}}}}}},
                "401": unauthorized}}},
            "/forms/{form_id}": {"get": {
                "summary": "表单定义",
                "parameters": [{"name": "form_id", "in": "path", "required": True,
                                "schema": {"enum": [form.id for form in forms]}}],
                "responses": {"200": {"description": "表单定义(与 checklists/ 中的定义相同)",
                                      "content": {"application/json": {"schema": {"type": "object"}}}},
                              "401": unauthorized, "404": _error("没有这个表单")}}},
            "/submissions": {
                "post": {"summary": "提交一份记录(幂等:同一 submission_id 重发得到同一记录)",
                         "requestBody": {"required": True, "content": {"application/json": {
                             "schema": {"$ref": "#/components/schemas/NewSubmission"}}}},
                         "responses": {"201": {"description": "已保存(或已存在的同一记录)",
                                               "content": {"application/json": {
                                                   "schema": {"$ref": "#/components/schemas/Submission"}}}},
                                       "400": _error("请求体不是 JSON 对象"), "401": unauthorized,
                                       "409": _error("同一 submission_id 已用于不同内容"),
                                       "422": _error("内容未通过校验")}},
                "get": {"summary": "此令牌可见的记录(新的在前)",
                        "parameters": [
                            {"name": "form", "in": "query", "schema": {"type": "string"}},
                            {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
                            {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
                            {"name": "person", "in": "query", "schema": {"type": "string"}},
                            {"name": "status", "in": "query",
                             "schema": {"enum": ["", "submitted", "corrected", "faults", "deleted"]}},
                            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                                        "maximum": 500}},
                            {"name": "before", "in": "query", "schema": {"type": "string"}}],
                        "responses": {"200": {"description": "记录列表", "content": {"application/json": {
                            "schema": {"type": "object", "properties": {
                                "submissions": {"type": "array", "items": {"type": "object"}},
                                "next": {"type": ["string", "null"]}}}}}},
                            "400": _error("筛选条件有误"), "401": unauthorized}}},
            "/submissions/{submission_id}": {"get": {
                "summary": "一份记录(最新版本)",
                "parameters": [{"name": "submission_id", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {"200": {"description": "记录", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Submission"}}}},
                    "401": unauthorized, "404": _error("不存在或无权查看")}}},
            "/openapi.json": {"get": {"summary": "本文档", "responses": {
                "200": {"description": "OpenAPI 文档"}, "401": unauthorized}}},
        },
    }
