"""The `vraagbaak` command."""

from __future__ import annotations

import typer

from cli import (
    backup_cmd,
    eval_cmd,
    follow_cmd,
    index_cmd,
    info_cmd,
    maintenance_cmd,
    mcp_cmd,
    model_cmd,
    remove_cmd,
    search_cmd,
    serve_cmd,
)


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="vraagbaak", no_args_is_help=True, add_completion=False,
        help="Semantic search over Dutch news articles, asked in Dutch or English.")
    app.command("index")(index_cmd.index)
    app.command("remove")(remove_cmd.remove)
    app.command("follow")(follow_cmd.follow)
    app.command("search")(search_cmd.search)
    app.command("info")(info_cmd.info)
    app.command("backup")(backup_cmd.backup)
    app.command("optimize")(maintenance_cmd.optimize)
    app.command("migrate")(maintenance_cmd.migrate)
    app.command("eval")(eval_cmd.evaluate)
    app.command("serve")(serve_cmd.serve)
    app.command("mcp")(mcp_cmd.mcp)
    app.add_typer(model_cmd.app, name="model")
    return app


def main() -> None:
    build_app()()
