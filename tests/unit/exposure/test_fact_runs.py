"""One INSERT per run of events may not touch a row twice: `fact_rows.merged` folds a run's rows
per key as applying them one after the other would leave a new row."""

from __future__ import annotations

from services.exposure.adapters.fact_rows import merged


def test_rows_of_one_key_keep_the_first_values_and_the_last_updated_columns() -> None:
    rows = [("O1", "P1", "t1"), ("O2", "P2", "t2"), ("O1", "P9", "t3")]
    assert merged(rows, updated=(2,)) == [["O1", "O2"], ["P1", "P2"], ["t3", "t2"]]


def test_without_updated_columns_the_first_row_wins() -> None:
    rows = [("S1", 30), ("S1", 99)]
    assert merged(rows) == [["S1"], [30]]


def test_an_empty_run_has_no_columns() -> None:
    assert merged([]) == []
