"""HTTP inference service: FastAPI app over a Backend, request validation, metrics, prediction hook."""
