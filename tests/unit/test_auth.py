"""runtime.auth: token verification, scope rules, the dev issuer and its CLI."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from runtime import auth
from runtime.auth import DevIssuer, Principal, Role, TokenVerifier
from runtime.errors import Unauthenticated


@pytest.fixture(scope="module")
def issuer() -> DevIssuer:
    return DevIssuer.generate()


def claims(dev: DevIssuer, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": dev.issuer,
        "aud": dev.audience,
        "sub": "officer-1",
        "role": "district_office",
        "district": "120101",
        "iat": now,
        "exp": now + 600,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def refusal(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(Unauthenticated) as caught:
        verifier.verify(token)
    assert caught.value.message.zh
    assert caught.value.message.en
    return str(caught.value.code)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"


def test_valid_token_gives_principal(issuer: DevIssuer) -> None:
    principal = Principal("officer-1", Role.DISTRICT_OFFICE, district_code="120101", name="张三")
    assert issuer.verifier().verify(issuer.issue(principal)) == principal


@pytest.mark.parametrize(
    "principal",
    [
        Principal("owner-9", Role.OWNER),
        Principal("ent-user", Role.ENTERPRISE, enterprise_id="E-0042"),
        Principal("city-1", Role.CITY_OFFICE),
        Principal("hotline", Role.AGENCY, agency_id="12345"),
    ],
)
def test_every_role_round_trips(issuer: DevIssuer, principal: Principal) -> None:
    assert issuer.verifier().verify(issuer.issue(principal)) == principal


def test_expired_token_refused(issuer: DevIssuer) -> None:
    now = int(time.time())
    token = issuer.sign(claims(issuer, iat=now - 3600, exp=now - 60))
    assert refusal(issuer.verifier(), token) == "token_expired"


def test_leeway_tolerates_small_clock_skew(issuer: DevIssuer) -> None:
    now = int(time.time())
    token = issuer.sign(claims(issuer, iat=now - 3600, exp=now - 10))
    assert issuer.verifier().verify(token).subject == "officer-1"


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_not_yet_valid_refused(issuer: DevIssuer, claim: str) -> None:
    token = issuer.sign(claims(issuer, **{claim: int(time.time()) + 600}))
    assert refusal(issuer.verifier(), token) == "token_not_yet_valid"


def test_tampered_payload_refused(issuer: DevIssuer) -> None:
    header, _payload, signature = issuer.sign(claims(issuer)).split(".")
    forged = b64(json.dumps(claims(issuer, role="city_office", district=None)).encode())
    assert refusal(issuer.verifier(), f"{header}.{forged}.{signature}") == "token_bad_signature"


def test_tampered_signature_refused(issuer: DevIssuer) -> None:
    header, payload, signature = issuer.sign(claims(issuer)).split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[10] ^= 0xFF
    token = f"{header}.{payload}.{b64(bytes(raw))}"
    assert refusal(issuer.verifier(), token) == "token_bad_signature"


def test_token_from_another_key_refused(issuer: DevIssuer) -> None:
    impostor = DevIssuer.generate()  # same issuer name and audience, different key
    token = impostor.issue(Principal("city-1", Role.CITY_OFFICE))
    assert refusal(issuer.verifier(), token) == "token_bad_signature"


def test_wrong_audience_refused(issuer: DevIssuer) -> None:
    token = issuer.sign(claims(issuer, aud="another-platform"))
    assert refusal(issuer.verifier(), token) == "token_wrong_audience"


def test_wrong_issuer_refused(issuer: DevIssuer) -> None:
    token = issuer.sign(claims(issuer, iss="https://evil.example"))
    assert refusal(issuer.verifier(), token) == "token_wrong_issuer"


def test_alg_none_refused(issuer: DevIssuer) -> None:
    forged = claims(issuer, role="city_office", district=None)
    token = unsigned({"alg": "none", "typ": "JWT"}, forged)
    assert refusal(issuer.verifier(), token + ".") == "token_algorithm_refused"


def test_hs256_signed_with_public_key_refused(issuer: DevIssuer) -> None:
    """The classic key-confusion attack: HMAC keyed with the (public) verification key."""
    signing_input = unsigned({"alg": "HS256", "typ": "JWT"}, claims(issuer))
    mac = hmac.new(issuer.public_key_pem.encode(), signing_input.encode(), hashlib.sha256)
    token = f"{signing_input}.{b64(mac.digest())}"
    assert refusal(issuer.verifier(), token) == "token_algorithm_refused"


@pytest.mark.parametrize("algorithms", [("none",), ("HS256",), ("ES256", "HS512"), ()])
def test_verifier_refuses_symmetric_or_no_algorithms(
    issuer: DevIssuer, algorithms: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError, match="algorithm"):
        TokenVerifier(
            issuer.public_key_pem, issuer=issuer.issuer, audience=issuer.audience,
            algorithms=algorithms,
        )  # fmt: skip


def test_verifier_refuses_key_that_does_not_fit_algorithm() -> None:
    rsa_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with pytest.raises(TypeError):
        TokenVerifier(rsa_pem, issuer="i", audience="a", algorithms=("ES256",))


def test_verifier_refuses_private_key_in_settings() -> None:
    private_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    with pytest.raises(ValueError, match="public key"):
        TokenVerifier(private_pem, issuer="i", audience="a")


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"district": None}, "token_bad_scope"),  # district_office without district
        ({"district": "12010"}, "token_bad_scope"),  # not 6 digits
        ({"role": "owner"}, "token_bad_scope"),  # owner with a district
        ({"role": "enterprise", "district": None}, "token_bad_scope"),  # enterprise without id
        ({"role": "city_office", "district": None, "enterprise": "E-1"}, "token_bad_scope"),
        ({"role": "agency", "district": None}, "token_bad_scope"),  # agency without its id
        ({"role": "city_office", "district": None, "agency": "12345"}, "token_bad_scope"),
        ({"role": "agency", "district": None, "agency": 12345}, "token_malformed"),
        ({"role": "superuser"}, "token_bad_role"),
        ({"role": None}, "token_bad_role"),
        ({"district": 120101}, "token_malformed"),  # scope claims are strings
        ({"sub": ""}, "token_bad_scope"),
        ({"sub": None}, "token_missing_claim"),
        ({"exp": None}, "token_missing_claim"),
        ({"iat": None}, "token_missing_claim"),
    ],
)
def test_bad_claims_refused(issuer: DevIssuer, overrides: dict[str, Any], code: str) -> None:
    assert refusal(issuer.verifier(), issuer.sign(claims(issuer, **overrides))) == code


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c", "x" * 10_000])
def test_garbage_refused(issuer: DevIssuer, token: str) -> None:
    assert refusal(issuer.verifier(), token) == "token_malformed"


def test_missing_claim_reason_names_the_claim(issuer: DevIssuer) -> None:
    with pytest.raises(Unauthenticated) as caught:
        issuer.verifier().verify(issuer.sign(claims(issuer, exp=None)))
    assert "exp" in caught.value.message.zh
    assert "exp" in caught.value.message.en


def test_principal_scope_rules() -> None:
    city = Principal("c", Role.CITY_OFFICE)
    heping = Principal("d", Role.DISTRICT_OFFICE, district_code="120101")
    enterprise = Principal("e", Role.ENTERPRISE, enterprise_id="E-1")
    owner = Principal("o", Role.OWNER)
    assert city.can_see_district("120104")
    assert heping.can_see_district("120101")
    assert not heping.can_see_district("120104")
    assert not enterprise.can_see_district("120101")
    assert not owner.can_see_district("120101")
    assert enterprise.can_act_for_enterprise("E-1")
    assert not enterprise.can_act_for_enterprise("E-2")
    assert not city.can_act_for_enterprise("E-1")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"subject": "d", "role": Role.DISTRICT_OFFICE},
        {"subject": "o", "role": Role.OWNER, "district_code": "120101"},
        {"subject": "e", "role": Role.ENTERPRISE},
        {"subject": "e", "role": Role.ENTERPRISE, "enterprise_id": ""},
        {"subject": "", "role": Role.OWNER},
        {"subject": "a", "role": Role.AGENCY},
        {"subject": "a", "role": Role.AGENCY, "agency_id": ""},
        {"subject": "a", "role": Role.AGENCY, "agency_id": "x" * 65},
        {"subject": "c", "role": Role.CITY_OFFICE, "agency_id": "12345"},
    ],
)
def test_incoherent_principal_cannot_be_built(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"district_code|enterprise_id|agency_id|subject"):
        Principal(**kwargs)


def test_load_or_create_shares_one_key(tmp_path: Path) -> None:
    first = DevIssuer.load_or_create(tmp_path / "keys")
    second = DevIssuer.load_or_create(tmp_path / "keys")
    assert first.public_key_pem == second.public_key_pem
    private = tmp_path / "keys" / DevIssuer.PRIVATE_KEY_FILE
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    public = (tmp_path / "keys" / DevIssuer.PUBLIC_KEY_FILE).read_text()
    assert public == first.public_key_pem
    token = first.issue(Principal("c", Role.CITY_OFFICE))
    assert second.verifier().verify(token).role is Role.CITY_OFFICE
    assert [p.name for p in (tmp_path / "keys").iterdir() if p.name.endswith(".tmp")] == []


def test_cli_issues_a_verifiable_token(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["issue", "--key-dir", str(tmp_path), "--role", "district_office"]
    assert auth.main([*argv, "--district", "120101", "--sub", "officer-1"]) == 0
    token = capsys.readouterr().out.strip()
    principal = DevIssuer.load_or_create(tmp_path).verifier().verify(token)
    assert principal == Principal("officer-1", Role.DISTRICT_OFFICE, district_code="120101")


def test_cli_refuses_incoherent_scope(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        auth.main(["issue", "--key-dir", str(tmp_path), "--role", "district_office", "--sub", "x"])
    assert exited.value.code == 2
    assert "district_code" in capsys.readouterr().err


def test_cli_runs_as_module(tmp_path: Path) -> None:
    argv = ["--key-dir", str(tmp_path), "--role", "enterprise", "--enterprise", "E-7", "--sub", "u"]
    done = subprocess.run(
        [sys.executable, "-m", "runtime.auth", "issue", *argv],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    public = subprocess.run(
        [sys.executable, "-m", "runtime.auth", "public-key", "--key-dir", str(tmp_path)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    verifier = TokenVerifier(public.stdout, issuer=auth.DEV_ISSUER, audience=auth.DEV_AUDIENCE)
    assert verifier.verify(done.stdout.strip()).enterprise_id == "E-7"


def test_an_overlong_subject_is_refused_as_a_bad_token(issuer: DevIssuer) -> None:
    now = int(time.time())
    token = issuer.sign(
        {"iss": issuer.issuer, "aud": issuer.audience, "sub": "x" * 65, "role": "city_office",
         "iat": now, "exp": now + 60}
    )  # fmt: skip
    with pytest.raises(Unauthenticated) as refused:
        issuer.verifier().verify(token)
    assert refused.value.code == "token_bad_scope"
