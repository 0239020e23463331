"""Identity for every HTTP API: bearer JWTs issued by the city identity provider.

Tokens are verified with a PUBLIC key and an asymmetric algorithm (ES256 by default); "none" and
HMAC algorithms are refused when the verifier is built, so no token can choose them. Checked:
``iss``, ``aud``, ``exp``, ``iat`` (and ``nbf`` when present) with a small leeway, then ``sub``,
``role`` (a ``Role``), ``district`` (6 digits; required for district_office, forbidden otherwise),
``enterprise`` (required for the enterprise role, forbidden otherwise), ``agency`` (which outside
agency: required for the agency role, forbidden otherwise; the 12345 hotline is one) and an
optional ``name``.
Role and scope come from the token only, never from a request body.

``DevIssuer`` is the development/test identity provider; production code paths never use it.
CLI for the demo and for trying the API with curl::

    python -m runtime.auth issue --key-dir DIR --role district_office --district 120101 \\
        --sub officer-1
    python -m runtime.auth public-key --key-dir DIR
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from runtime.errors import Message, Unauthenticated

DEV_ISSUER = "https://id.dev.wuye.local"
DEV_AUDIENCE = "wuye-platform"
_DISTRICT_CODE = re.compile(r"\d{6}")
_MAX_TOKEN_CHARS = 8192
# The only algorithms we accept, each with the public key type it needs: asymmetric, never HS*/none.
_KEY_TYPES: dict[str, tuple[type, ...]] = {
    **{f"ES{n}": (ec.EllipticCurvePublicKey,) for n in (256, 384, 512)},
    **{f"{p}{n}": (rsa.RSAPublicKey,) for p in ("RS", "PS") for n in (256, 384, 512)},
    "EdDSA": (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey),
}


class Role(StrEnum):
    OWNER = "owner"
    ENTERPRISE = "enterprise"
    DISTRICT_OFFICE = "district_office"
    CITY_OFFICE = "city_office"
    AGENCY = "agency"


@dataclass(frozen=True)
class Principal:
    """Who is calling. Scope rules are checked on construction: a Principal is always coherent."""

    subject: str
    role: Role
    district_code: str | None = None
    enterprise_id: str | None = None
    name: str | None = None
    agency_id: str | None = None  # which outside agency (the 12345 hotline is "12345")

    def __post_init__(self) -> None:
        if not isinstance(self.role, Role):
            raise TypeError(f"role must be a Role, not {self.role!r}")
        if not self.subject:
            raise ValueError("subject must not be empty")
        if len(self.subject) > MAX_SUBJECT_CHARS:
            # Subjects are recorded in events (recorded_by, actor): an opaque id, not a document.
            raise ValueError(f"subject longer than {MAX_SUBJECT_CHARS} characters")
        is_district, is_enterprise = self.role is Role.DISTRICT_OFFICE, self.role is Role.ENTERPRISE
        if is_district != (self.district_code is not None):
            raise ValueError("district_code is required for district_office, forbidden otherwise")
        if self.district_code is not None and not _DISTRICT_CODE.fullmatch(self.district_code):
            raise ValueError("district_code must be 6 digits")
        if is_enterprise != (self.enterprise_id is not None) or self.enterprise_id == "":
            raise ValueError("enterprise_id is required for enterprise, forbidden otherwise")
        is_agency = self.role is Role.AGENCY
        if is_agency != (self.agency_id is not None) or self.agency_id == "":
            raise ValueError("agency_id is required for agency, forbidden otherwise")
        if self.agency_id is not None and len(self.agency_id) > MAX_SUBJECT_CHARS:
            raise ValueError(f"agency_id longer than {MAX_SUBJECT_CHARS} characters")

    def can_see_district(self, code: str) -> bool:
        if self.role is Role.CITY_OFFICE:
            return True
        return self.role is Role.DISTRICT_OFFICE and self.district_code == code

    def can_act_for_enterprise(self, enterprise_id: str) -> bool:
        return self.role is Role.ENTERPRISE and self.enterprise_id == enterprise_id


_REASONS = {
    "token_malformed": Message("身份令牌格式不正确", "Token is malformed"),
    "token_expired": Message("身份令牌已过期，请重新登录", "Token has expired; sign in again"),
    "token_not_yet_valid": Message("身份令牌尚未生效", "Token is not yet valid"),
    "token_bad_signature": Message("身份令牌签名无效", "Token signature is invalid"),
    "token_algorithm_refused": Message("身份令牌的签名算法不被接受", "Token algorithm refused"),
    "token_wrong_issuer": Message("身份令牌的签发方不受信任", "Token issuer is not trusted"),
    "token_wrong_audience": Message("身份令牌不是签发给本平台的", "Token is for another audience"),
    "token_bad_role": Message("身份令牌中的角色无效", "Token role is not a known role"),
    "token_bad_scope": Message(
        "身份令牌的角色与辖区/企业/机构范围不匹配",
        "Token role does not match its district/enterprise/agency",
    ),
    "token_invalid": Message("身份令牌无效", "Token is invalid"),
}
# Most specific first: several of these subclass DecodeError.
_JWT_ERRORS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "token_expired"),
    (jwt.ImmatureSignatureError, "token_not_yet_valid"),
    (jwt.InvalidAudienceError, "token_wrong_audience"),
    (jwt.InvalidIssuerError, "token_wrong_issuer"),
    (jwt.InvalidSignatureError, "token_bad_signature"),
    (jwt.InvalidAlgorithmError, "token_algorithm_refused"),
    (jwt.DecodeError, "token_malformed"),
)


def _refuse(code: str) -> Unauthenticated:
    return Unauthenticated(code, _REASONS[code])


class TokenVerifier:
    def __init__(
        self,
        public_key_pem: str,
        *,
        issuer: str,
        audience: str,
        algorithms: Sequence[str] = ("ES256",),
        leeway_s: int = 30,
    ) -> None:
        if not algorithms:
            raise ValueError("at least one algorithm is required")
        try:  # a private key PEM fails here too: settings must never hold one
            key = serialization.load_pem_public_key(public_key_pem.encode())
        except ValueError as exc:
            raise ValueError(f"public_key_pem is not a PEM public key: {exc}") from None
        for alg in algorithms:
            if alg not in _KEY_TYPES:
                raise ValueError(f"refusing algorithm {alg!r}; allowed: {sorted(_KEY_TYPES)}")
            if not isinstance(key, _KEY_TYPES[alg]):
                raise TypeError(f"a {type(key).__name__} cannot verify {alg}")
        self._key = key
        self._issuer, self._audience = issuer, audience
        self._algorithms, self._leeway_s = list(algorithms), leeway_s

    def verify(self, token: str) -> Principal:
        """Return the token's principal or raise ``Unauthenticated`` with a bilingual reason."""
        if not token or len(token) > _MAX_TOKEN_CHARS:
            raise _refuse("token_malformed")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key_for(token),
                algorithms=self._algorithms,
                issuer=self._issuer,
                audience=self._audience,
                leeway=self._leeway_s,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.MissingRequiredClaimError as exc:
            claim = exc.claim
            missing = Message(f"身份令牌缺少必需的声明 {claim}", f"Token lacks claim {claim!r}")
            raise Unauthenticated("token_missing_claim", missing) from None
        except jwt.PyJWTError as exc:
            code = next((c for t, c in _JWT_ERRORS if isinstance(exc, t)), "token_invalid")
            raise _refuse(code) from None
        return _principal(claims)

    def _key_for(self, token: str) -> Any:
        """The key that verifies `token` (one fixed key here; runtime.oidc: the issuer's JWKS)."""
        return self._key


def _principal(claims: Mapping[str, Any]) -> Principal:
    try:
        role = Role(str(claims.get("role")))
    except ValueError:
        raise _refuse("token_bad_role") from None
    sub, district, enterprise, name, agency = (_text(claims, k) for k in _PRINCIPAL_CLAIMS)
    try:
        return Principal(sub or "", role, district, enterprise, name, agency)
    except ValueError:
        raise _refuse("token_bad_scope") from None


_PRINCIPAL_CLAIMS = ("sub", "district", "enterprise", "name", "agency")
MAX_SUBJECT_CHARS = 64


def _text(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is not None and not isinstance(value, str):
        raise _refuse("token_malformed")
    return value


class DevIssuer:
    """Development/test identity provider (EC P-256, ES256). Never used by production code paths."""

    PRIVATE_KEY_FILE = "dev-issuer-private.pem"
    PUBLIC_KEY_FILE = "dev-issuer-public.pem"

    def __init__(self, key: ec.EllipticCurvePrivateKey, *, issuer: str, audience: str) -> None:
        if not isinstance(key.curve, ec.SECP256R1):
            raise TypeError("DevIssuer needs an EC P-256 key (ES256)")
        self._key, self.issuer, self.audience = key, issuer, audience
        self.public_key_pem = (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    @classmethod
    def generate(cls, *, issuer: str = DEV_ISSUER, audience: str = DEV_AUDIENCE) -> DevIssuer:
        return cls(ec.generate_private_key(ec.SECP256R1()), issuer=issuer, audience=audience)

    @classmethod
    def load_or_create(
        cls, directory: Path, *, issuer: str = DEV_ISSUER, audience: str = DEV_AUDIENCE
    ) -> DevIssuer:
        """Share one issuer between processes: the first creates the key (0600), others load it.

        Also writes the public key beside it, for ``AUTH_JWT_PUBLIC_KEY``.
        """
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        key_path = directory / cls.PRIVATE_KEY_FILE
        if not key_path.exists():
            fresh = ec.generate_private_key(ec.SECP256R1()).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            tmp = directory / f".{uuid.uuid4().hex}.tmp"
            with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
                f.write(fresh)
            try:
                os.link(tmp, key_path)  # atomic and never overwrites: one concurrent creator wins
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise TypeError(f"{key_path} is not an EC private key")
        dev = cls(key, issuer=issuer, audience=audience)
        public_tmp = directory / f".{uuid.uuid4().hex}.tmp"
        public_tmp.write_text(dev.public_key_pem)
        public_tmp.replace(directory / cls.PUBLIC_KEY_FILE)
        return dev

    def sign(self, claims: Mapping[str, Any]) -> str:
        """Sign claims exactly as given: for tests that need odd or broken tokens."""
        return jwt.encode(dict(claims), self._key, algorithm="ES256")

    def issue(self, principal: Principal, *, ttl_s: int = 3600) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer, "aud": self.audience, "sub": principal.subject,
            "role": principal.role.value, "iat": now, "nbf": now, "exp": now + ttl_s,
            "jti": uuid.uuid4().hex, "district": principal.district_code,
            "enterprise": principal.enterprise_id, "name": principal.name,
            "agency": principal.agency_id,
        }  # fmt: skip
        return self.sign({k: v for k, v in claims.items() if v is not None})

    def verifier(self) -> TokenVerifier:
        return TokenVerifier(self.public_key_pem, issuer=self.issuer, audience=self.audience)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runtime.auth", description=DevIssuer.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    issue = commands.add_parser("issue", help="print a signed token")
    public = commands.add_parser("public-key", help="print the issuer's public key (PEM)")
    for command in (issue, public):
        command.add_argument("--key-dir", type=Path, required=True)
        command.add_argument("--issuer", default=DEV_ISSUER)
        command.add_argument("--audience", default=DEV_AUDIENCE)
    issue.add_argument("--role", required=True, choices=[r.value for r in Role])
    issue.add_argument("--sub", required=True)
    issue.add_argument("--district")
    issue.add_argument("--enterprise")
    issue.add_argument("--name")
    issue.add_argument("--agency", help="the agency role's agency id (the hotline: 12345)")
    issue.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (3600)")
    args = parser.parse_args(argv)
    dev = DevIssuer.load_or_create(args.key_dir, issuer=args.issuer, audience=args.audience)
    if args.command == "public-key":
        print(dev.public_key_pem, end="")
        return 0
    try:
        principal = Principal(
            args.sub, Role(args.role), args.district, args.enterprise, args.name, args.agency
        )
    except ValueError as exc:
        parser.error(str(exc))
    print(dev.issue(principal, ttl_s=args.ttl))
    return 0


if __name__ == "__main__":
    sys.exit(main())
