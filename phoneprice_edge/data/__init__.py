"""The data layer: read tables, check them against a feature schema, split, standardise, synthesise."""

from phoneprice_edge.data.infer import infer_schema
from phoneprice_edge.data.ingest import FORMATS, iter_sql_chunks, read_table, write_table
from phoneprice_edge.data.split import fit_scaler, holdout, kfold
from phoneprice_edge.data.synth import synth_phone
from phoneprice_edge.data.validate import (
    CheckResult,
    Dataset,
    load_dataset,
    prepare,
    prepare_features,
    prepare_unlabelled,
    resolve_schema,
    validate_frame,
)

__all__ = [
    "FORMATS", "CheckResult", "Dataset", "fit_scaler", "holdout", "infer_schema", "iter_sql_chunks",
    "kfold", "load_dataset", "prepare", "prepare_features", "prepare_unlabelled", "read_table",
    "resolve_schema", "synth_phone", "validate_frame", "write_table",
]
