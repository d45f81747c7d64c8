"""The docs page: plain HTML rendered from the document, no scripts, fonts or other origins."""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Any

import orjson

from ...config import Config
from ...jobtypes.registry import JobTypes
from .document import document
from .schemas import JSON, Schema

METHODS = ("get", "post", "put", "patch", "delete")
STYLE = """
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:1rem 2rem;color:#222}
h1{margin-bottom:0}h2{border-bottom:2px solid #ccc;margin-top:2.5rem}
section.op{border:1px solid #ddd;border-radius:6px;margin:1.2rem 0;padding:.2rem 1rem 1rem}
h3{font-family:ui-monospace,monospace;font-size:1.05rem}
.m{display:inline-block;min-width:4.5rem;padding:0 .4rem;border-radius:4px;color:#fff;text-align:center}
.get{background:#2f6f9f}.post{background:#3a873a}.put{background:#8a6d1d}.patch{background:#8a5a1d}
.delete{background:#a33}
table{border-collapse:collapse;width:100%;margin:.4rem 0}
td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}code{font-family:ui-monospace,monospace}pre{white-space:pre-wrap}
nav li{font-family:ui-monospace,monospace}.muted{color:#666}
"""


def _resolve(doc: dict[str, Any], schema: Schema) -> Schema:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def describe_type(doc: dict[str, Any], schema: Schema) -> str:
    """A short human description of a schema's type and limits."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[1]
    if "const" in schema:
        return f"always {orjson.dumps(schema['const']).decode()}"
    if "enum" in schema:
        return "one of " + ", ".join("null" if v is None else str(v) for v in schema["enum"])
    if "anyOf" in schema:
        return " or ".join(describe_type(doc, s) for s in schema["anyOf"])
    if "allOf" in schema:
        return " and ".join(describe_type(doc, s) for s in schema["allOf"])
    kinds = schema.get("type")
    if kinds is None:
        return "any JSON"
    text = " or ".join(kinds) if isinstance(kinds, list) else kinds
    if text.startswith("array") and "items" in schema:
        text = f"array of {describe_type(doc, schema['items'])}"
    limits = []
    for key, word in (
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("minLength", "length ≥"),
        ("maxLength", "length ≤"),
        ("minItems", "items ≥"),
        ("maxItems", "items ≤"),
    ):
        if key in schema:
            value = schema[key]
            limits.append(f"{word} {int(value) if isinstance(value, float) and value.is_integer() else value}")
    if "format" in schema:
        limits.append(schema["format"])
    if "default" in schema:
        limits.append(f"default {orjson.dumps(schema['default']).decode()}")
    return f"{text} ({', '.join(limits)})" if limits else text


def _fields(doc: dict[str, Any], schema: Schema, prefix: str = "") -> list[tuple[str, Schema, bool]]:
    """(name, schema, required) of an object's fields, nested objects flattened as a.b."""
    schema = _resolve(doc, schema)
    if "anyOf" in schema:  # e.g. data: an object or the same as a JSON string
        objects = [_resolve(doc, s) for s in schema["anyOf"] if _resolve(doc, s).get("type") == "object"]
        schema = objects[0] if objects else schema
    required = set(schema.get("required", ()))
    rows = []
    for name, sub in schema.get("properties", {}).items():
        rows.append((prefix + name, sub, name in required))
        target = _resolve(doc, sub)
        if "anyOf" in target:
            inner = [_resolve(doc, s) for s in target["anyOf"] if _resolve(doc, s).get("properties")]
            target = inner[0] if inner else target
        if target.get("type") == "object" and target.get("properties"):
            rows.extend(_fields(doc, target, f"{prefix}{name}."))
    return rows


def _text(value: str) -> str:
    return html.escape(value, quote=True)


def _example_text(schema: Schema) -> str:
    examples = [e for e in schema.get("examples", ()) if isinstance(e, str) and "://" not in e]
    return (
        f" <span class='muted'>e.g. {', '.join(f'<code>{_text(e)}</code>' for e in examples)}</span>"
        if examples
        else ""
    )


def _field_table(doc: dict[str, Any], schema: Schema) -> str:
    rows = _fields(doc, schema)
    if not rows:
        return f"<p>{_text(describe_type(doc, schema))}</p>"
    out = ["<table><tr><th>Field</th><th>Type</th><th>Required</th><th>Meaning</th></tr>"]
    for name, sub, required in rows:
        resolved = _resolve(doc, sub)
        meaning = sub.get("description") or resolved.get("description", "")
        out.append(
            f"<tr><td><code>{_text(name)}</code></td><td>{_text(describe_type(doc, sub))}</td>"
            f"<td>{'yes' if required else ''}</td><td>{_text(meaning)}{_example_text(resolved)}</td></tr>"
        )
    out.append("</table>")
    return "".join(out)


def _anchor(method: str, path: str) -> str:
    return "op-" + method + re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-")


def render_docs(doc: dict[str, Any]) -> str:
    """The document as one self-contained HTML page."""
    info = doc["info"]
    schemes = doc["components"]["securitySchemes"]
    toc: list[str] = []
    sections: list[str] = []
    for tag in doc["tags"]:
        ops = [
            (path, method, op)
            for path, item in doc["paths"].items()
            for method, op in item.items()
            if method in METHODS and tag["name"] in op.get("tags", ())
        ]
        if not ops:
            continue
        toc.append(f"<li>{_text(tag['description'])}<ul>")
        sections.append(f"<h2 id='tag-{_text(tag['name'])}'>{_text(tag['description'])}</h2>")
        for path, method, op in ops:
            anchor = _anchor(method, path)
            toc.append(
                f"<li><a href='#{anchor}'>{method.upper()} {_text(path)}</a> "
                f"<span class='muted'>{_text(op.get('summary', ''))}</span></li>"
            )
            parts = [
                f"<section class='op' id='{anchor}'>",
                f"<h3><span class='m {method}'>{method.upper()}</span> {_text(path)}</h3>",
                f"<p><strong>{_text(op.get('summary', ''))}</strong></p>",
            ]
            if op.get("description"):
                parts.append(f"<p>{_text(op['description'])}</p>")
            security = op.get("security", [])
            if security:
                names = [schemes[name].get("description", name) for req in security for name in req]
                parts.append(f"<p>Authentication, one of: {_text(' | '.join(names))}</p>")
            else:
                parts.append("<p>No authentication.</p>")
            if op.get("parameters"):
                parts.append(
                    "<h4>Parameters</h4><table><tr><th>Name</th><th>In</th><th>Type</th>"
                    "<th>Required</th><th>Meaning</th></tr>"
                )
                for param in op["parameters"]:
                    parts.append(
                        f"<tr><td><code>{_text(param['name'])}</code></td><td>{_text(param['in'])}</td>"
                        f"<td>{_text(describe_type(doc, param['schema']))}</td>"
                        f"<td>{'yes' if param.get('required') else ''}</td>"
                        f"<td>{_text(param.get('description', ''))}</td></tr>"
                    )
                parts.append("</table>")
            if op.get("requestBody"):
                content = op["requestBody"]["content"]
                parts.append(f"<h4>Request body</h4><p>As {_text(' or '.join(content))}.</p>")
                parts.append(
                    _field_table(
                        doc, content[JSON]["schema"] if JSON in content else next(iter(content.values()))["schema"]
                    )
                )
            parts.append("<h4>Responses</h4><table><tr><th>Status</th><th>Meaning</th><th>Body</th></tr>")
            for status, response in op["responses"].items():
                content = response.get("content", {})
                shape = "; ".join(
                    f"{kind}: {describe_type(doc, media.get('schema', {}))}" for kind, media in content.items()
                )
                parts.append(
                    f"<tr><td>{_text(status)}</td><td>{_text(response.get('description', ''))}</td>"
                    f"<td>{_text(shape) or 'empty'}</td></tr>"
                )
            parts.append("</table></section>")
            sections.append("".join(parts))
        toc.append("</ul></li>")
    names = sorted(doc["components"]["schemas"])
    models = []
    for name in names:
        schema = doc["components"]["schemas"][name]
        models.append(
            f"<section class='op' id='schema-{_text(name)}'><h3>{_text(name)}</h3>"
            f"<p>{_text(schema.get('description', ''))}</p>{_field_table(doc, schema)}</section>"
        )
    description = "".join(f"<p>{_text(par)}</p>" for par in info["description"].split("\n\n"))
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_text(info['title'])} API</title><style>{STYLE}</style></head><body>"
        f"<h1>{_text(info['title'])} API</h1><p class='muted'>Version {_text(info['version'])}, "
        f"OpenAPI {_text(doc['openapi'])}: <a href='/openapi.json'>/openapi.json</a></p>{description}"
        f"<nav><h2>Endpoints</h2><ul>{''.join(toc)}</ul></nav>{''.join(sections)}"
        f"<h2>Schemas</h2>{''.join(models)}</body></html>"
    )


@lru_cache(maxsize=8)
def _rendered(config: Config, job_types: JobTypes) -> tuple[bytes, bytes]:
    doc = document(config, job_types)
    return orjson.dumps(doc), render_docs(doc).encode()


def rendered(config: Config, job_types: JobTypes) -> tuple[bytes, bytes]:
    """(the document as JSON, the docs page) for this configuration and these job types, built once."""
    try:
        return _rendered(config, job_types)
    except TypeError:  # a configuration that cannot be hashed: build it every time
        doc = document(config, job_types)
        return orjson.dumps(doc), render_docs(doc).encode()
