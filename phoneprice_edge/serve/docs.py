"""/docs and /redoc without a CDN: Swagger UI and ReDoc from the assets that the `fastapi-offline`
package ships (the serve extra), served by this process under /docs/assets; without the package,
a page that says so and points at /openapi.json (an edge server is often offline)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"
ASSET_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")


def assets_dir() -> Path | None:
    """The folder with the Swagger UI / ReDoc assets, or None when fastapi-offline is missing."""
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "static"
    return folder if all((folder / f).is_file() for f in ASSET_FILES) else None


def add_docs(app: FastAPI, openapi_url: str = "/openapi.json") -> None:
    """GET /docs (Swagger UI), GET /redoc and the assets; the app must have docs_url=None."""
    folder = assets_dir()
    title = app.title
    if folder is not None:
        app.mount(ASSETS, StaticFiles(directory=folder), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        if folder is None:
            return _missing(root + openapi_url, title)
        return get_swagger_ui_html(openapi_url=root + openapi_url, title=f"{title} - Swagger UI",
                                   swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{root}{ASSETS}/favicon.png")

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        if folder is None:
            return _missing(root + openapi_url, title)
        return get_redoc_html(openapi_url=root + openapi_url, title=f"{title} - ReDoc",
                              redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
                              redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
                              with_google_fonts=False)


def _missing(openapi_url: str, title: str) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1>"
        "<p>The interactive documentation needs the Swagger UI assets, which this server does "
        "not have (install the <code>fastapi-offline</code> package: "
        "<code>pip install 'phoneprice_edge[serve]'</code>). Nothing is loaded from a CDN.</p>"
        f'<p>The OpenAPI document: <a href="{openapi_url}">{openapi_url}</a></p></body></html>')
