"""serve.client.PredictClient against a real server: schema and limits from /v1/model, binary
requests, server refusals as DataError naming the row, transport and HTTP errors one line."""

from __future__ import annotations

import numpy as np
import pytest
from live import live_server, wait_ok
from test_binary import rows

from phoneprice_edge.errors import DataError, UsageError
from phoneprice_edge.serve.app import create_app
from phoneprice_edge.serve.client import PredictClient, ServerError
from phoneprice_edge.serve.model import ServedModel
from phoneprice_edge.serve.server import bind_sockets
from phoneprice_edge.serve.settings import ServeSettings


def test_client_predicts_like_the_model(served: ServedModel) -> None:
    app = create_app(served, ServeSettings(max_batch=100, max_body_bytes=4000))
    with live_server(app) as url, PredictClient(url) as client:
        wait_ok(url)
        assert client.schema.feature_names == served.schema.feature_names
        assert client.classes == served.classes and client.model_id == served.model_id
        assert client.max_rows == 50  # 4,000 bytes / 80 bytes a row, under max_batch
        x = rows(served, 50)
        probs, idx = client.predict(x)
        want_p, want_i = served.predict(x)
        np.testing.assert_array_equal(probs, want_p)
        np.testing.assert_array_equal(idx, want_i)
        x[7, served.schema.feature_names.index("ram")] = 1e5
        with pytest.raises(DataError, match=r"row 1007, column 'ram': out of range"):
            client.predict(x, first_row=1000)


def test_api_key_and_errors(served: ServedModel, monkeypatch: pytest.MonkeyPatch) -> None:
    with live_server(create_app(served, ServeSettings(api_key="k3y"))) as url:
        monkeypatch.delenv("PE_API_KEY", raising=False)
        with pytest.raises(ServerError, match="HTTP 401: missing or wrong API key"):
            PredictClient(url)
        monkeypatch.setenv("PE_API_KEY", "k3y")
        with PredictClient(url) as client:
            assert client.predict(rows(served, 2))[1].shape == (2,)
    (sock,) = bind_sockets("127.0.0.1", 0)
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(ServerError, match=f"cannot reach http://127.0.0.1:{port}"):
        PredictClient(f"http://127.0.0.1:{port}")
    with pytest.raises(UsageError, match="http://"):
        PredictClient("127.0.0.1:8000")
