# CPU inference image without torch: pe-serve over an export folder mounted at /artifact. Serves
# ONNX (onnx-fp32, onnx-int8, ...) and C++ (cpp-fp32, cpp-int8) artifacts; OpenVINO IR with
#   --build-arg PE_EXTRAS=serve,openvino
# (TorchScript artifacts need torch: export ONNX for this image, or install phoneprice_edge[train]).
#   docker build -t phoneprice-edge:cpu .
#   docker run --rm -p 8000:8000 -v "$PWD/runs/r1/export/onnx-fp32:/artifact:ro" phoneprice-edge:cpu
ARG PYTHON_IMAGE=python:3.11-slim

# --- stage 1: the wheel, with the C++ runtime's libpe_runtime.so built and bundled (setup.py)
FROM ${PYTHON_IMAGE} AS wheel
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# Build tools only in this stage; the runtime stage gets the wheel, not the compiler.
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake g++ make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py MANIFEST.in constraints.txt README.md ./
COPY phoneprice_edge ./phoneprice_edge
COPY export_profiles ./export_profiles
COPY cpp_runtime ./cpp_runtime
RUN pip wheel --no-deps --wheel-dir /wheels .

# --- stage 2: the runtime (numpy, onnxruntime, pandas, the serve extra; no torch, no compiler)
FROM ${PYTHON_IMAGE}
ARG PE_EXTRAS=serve
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PE_ARTIFACT=/artifact \
    PE_HOST=0.0.0.0 \
    PE_PORT=8000

RUN groupadd --system --gid 10001 pe \
 && useradd --system --uid 10001 --gid pe --create-home --home-dir /home/pe pe

COPY constraints.txt /tmp/constraints.txt
COPY --from=wheel /wheels /tmp/wheels
RUN set -- /tmp/wheels/phoneprice_edge-*.whl \
 && pip install -c /tmp/constraints.txt "$1[${PE_EXTRAS}]" \
 && rm -rf /tmp/wheels /tmp/constraints.txt
COPY docker/entrypoint.sh docker/healthcheck.py /usr/local/bin/

WORKDIR /home/pe
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "/usr/local/bin/healthcheck.py"]
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
