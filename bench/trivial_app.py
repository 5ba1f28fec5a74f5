"""The peer of the registration benchmark: a trivial FastAPI POST endpoint with a pydantic body, no database."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Body(BaseModel):
    name: str
    address: str
    secret: str


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/v1/nodes", status_code=201)
def register(body: Body) -> dict[str, str]:
    return {"name": body.name, "address": body.address, "subnet": "10.0.0.0/24"}
