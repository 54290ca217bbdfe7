"""/docs: the endpoints, listed from the OpenAPI schema, on a page that needs nothing else.

FastAPI's /docs (Swagger UI) and /redoc load their scripts from a CDN, so on a server without
internet they stay blank; no installed package ships Swagger UI's files to serve instead.
"""

from __future__ import annotations

from html import escape

METHODS = ("get", "post", "put", "patch", "delete")


def docs_page(schema: dict) -> str:
    rows = "".join(
        f"<tr><td><code>{method.upper()}</code></td><td><code>{escape(path)}</code></td>"
        f"<td>{escape(op.get('summary') or '')}</td></tr>"
        for path, operations in schema.get("paths", {}).items()
        for method, op in operations.items() if method in METHODS)
    title = escape(schema.get("info", {}).get("title", "API"))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}: API</title></head>
<body>
<h1>{title}: API</h1>
<p>The full description, with every field and limit, is the OpenAPI schema at
<a href="/openapi.json">/openapi.json</a>; any OpenAPI viewer or client generator reads it. The
README's section on <code>vraagbaak serve</code> explains the endpoints and their errors.</p>
<p>This server has no interactive Swagger UI: it would load from a CDN, which a server without
internet cannot reach.</p>
<table><thead><tr><th>method</th><th>path</th><th>what</th></tr></thead><tbody>{rows}</tbody></table>
</body></html>
"""
