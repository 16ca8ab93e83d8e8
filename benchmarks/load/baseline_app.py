"""The ten-minute baseline: a minimal FastAPI endpoint (pydantic records, async def) that runs the
same ONNX model with onnxruntime and nothing else. Artifact folder from $PE_ARTIFACT.

    PE_ARTIFACT=DIR python -m uvicorn baseline_app:app --app-dir benchmarks/load --no-access-log
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnxruntime as ort
from fastapi import FastAPI
from pydantic import BaseModel

ARTIFACT = Path(os.environ.get("PE_ARTIFACT", "artifact"))
session = ort.InferenceSession(str(ARTIFACT / "model.onnx"), providers=["CPUExecutionProvider"])
INPUT = session.get_inputs()[0].name


class Record(BaseModel):
    battery_power: float
    blue: float
    clock_speed: float
    dual_sim: float
    fc: float
    four_g: float
    int_memory: float
    m_dep: float
    mobile_wt: float
    n_cores: float
    pc: float
    px_height: float
    px_width: float
    ram: float
    sc_h: float
    sc_w: float
    talk_time: float
    three_g: float
    touch_screen: float
    wifi: float


class Request(BaseModel):
    records: list[Record]


app = FastAPI()


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/v1/predict")
async def predict(req: Request) -> dict[str, list[dict[str, object]]]:
    x = np.array([list(r.model_dump().values()) for r in req.records], dtype=np.float32)
    logits = session.run(None, {INPUT: x})[0]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    return {"predictions": [{"class_index": int(k), "probabilities": row.tolist()}
                            for k, row in zip(p.argmax(axis=1), p, strict=True)]}
