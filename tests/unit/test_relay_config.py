from runtime.relay import RelayConfig


def test_backoff_grows_and_is_capped_even_after_very_many_attempts() -> None:
    cfg = RelayConfig(base_backoff_s=0.5, max_backoff_s=30.0)
    assert [cfg.backoff(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert cfg.backoff(7) == 30.0
    assert cfg.backoff(5000) == 30.0  # no OverflowError after hours of failures
