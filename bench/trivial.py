"""A trivial FastAPI endpoint (`uvicorn --factory bench.trivial:create_app`): the ceiling of one worker."""

from __future__ import annotations

from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    return app
