# CPU inference image: pe-serve (ONNX Runtime by default) over an export folder mounted at /artifact.
#   docker build -t phoneprice-edge:cpu .
#   docker run --rm -p 8000:8000 -v "$PWD/runs/r1/export/onnx_fp32:/artifact:ro" phoneprice-edge:cpu
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PE_ARTIFACT=/artifact \
    PE_HOST=0.0.0.0 \
    PE_PORT=8000

RUN groupadd --system --gid 10001 pe \
 && useradd --system --uid 10001 --gid pe --create-home --home-dir /home/pe pe

WORKDIR /opt/phoneprice_edge
# The CPU build of torch first, pinned, from the PyTorch CPU index (the default index has CUDA builds).
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
COPY pyproject.toml constraints.txt README.md ./
COPY phoneprice_edge ./phoneprice_edge
RUN pip install -c constraints.txt ".[serve]"
COPY docker/entrypoint.sh docker/healthcheck.py /usr/local/bin/

USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "/usr/local/bin/healthcheck.py"]
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
