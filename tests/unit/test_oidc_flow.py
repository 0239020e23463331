"""The sign-in flow's pieces that need no provider: where `next` may lead, the flow cookie."""

from __future__ import annotations

import pytest

from runtime.oidc import OidcClient, _local_path
from runtime.settings import Settings


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("/work?tab=queue", "/work?tab=queue"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("/work\r\nSet-Cookie: x=1", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_next_is_only_ever_a_local_path(candidate: str | None, expected: str) -> None:
    assert _local_path(candidate) == expected


def test_the_flow_cookie_is_refused_when_altered_or_signed_by_another_secret() -> None:
    def client(secret: str) -> OidcClient:
        settings = Settings(
            service_name="t", database_url="postgresql://x/y", oidc_issuer="http://idp/realms/r",
            oidc_client_secret=secret,
        )  # fmt: skip
        return OidcClient(settings, None)

    ours = client("s1")
    sealed = ours.seal({"state": "abc", "exp": 4_000_000_000})
    assert ours.unseal(sealed) == {"state": "abc", "exp": 4_000_000_000}
    body, mac = sealed.split(".")
    assert ours.unseal(body[:-2] + "xx." + mac) is None
    assert client("s2").unseal(sealed) is None
    assert ours.unseal(ours.seal({"state": "abc", "exp": 1})) is None  # expired
    assert ours.unseal("garbage") is None


def test_a_jwks_verifier_refuses_symmetric_and_unsigned_tokens_before_fetching_keys() -> None:
    import jwt as pyjwt

    from runtime.errors import Unauthenticated
    from runtime.oidc import JwksVerifier

    verifier = JwksVerifier("http://127.0.0.1:9/certs", issuer="i", audience="a")
    for token in (
        pyjwt.encode({"sub": "x"}, "secret-secret-secret-secret-32by", algorithm="HS256",
                     headers={"kid": "k"}),
        pyjwt.encode({"sub": "x"}, None, algorithm="none", headers={"kid": "k"}),
    ):  # fmt: skip
        with pytest.raises(Unauthenticated) as refused:
            verifier.verify(token)
        assert refused.value.code == "token_algorithm_refused"
    assert verifier.keys.fetches == 0
