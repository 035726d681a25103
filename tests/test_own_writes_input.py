"""Read-your-writes routing needs read replicas and clients: otherwise one located error."""

from __future__ import annotations

from .test_bad_input import VALID, assert_one_error, run_bad


def test_a_window_without_replicas_is_refused_at_its_line(tmp_path):
    text = VALID.replace("workload:\n  reads:\n", "workload:\n  reads:\n    clients: 10\n") + \
        "crud: {read_your_writes_window: 2s}\n"
    result, _, out = run_bad(tmp_path, text)
    assert_one_error(result, out, ":14:33", "crud.read_your_writes_window", "needs read replicas")


def test_a_window_without_clients_is_refused_at_its_line(tmp_path):
    text = VALID + "crud: {replicas: 2, read_your_writes_window: 2s}\n"
    result, _, out = run_bad(tmp_path, text)
    assert_one_error(result, out, ":13:46", "crud.read_your_writes_window", "needs clients")
