"""A test RSA key and the service-account JSON that goes with it.

The real google-auth signs an RS256 JWT with ``private_key`` and posts it to the ``token_uri``
written in the JSON; pointing ``token_uri`` at ``tests/emulators/google_oauth.py`` exercises that
flow end to end. The key is made once per process (RSA generation costs ~50 ms).

    info = service_account_info(token_uri=oauth_server.url + "/token")
    OAuthEmulator(public_keys=public_keys())
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

KEY_ID = "0123456789abcdef0123456789abcdef01234567"
CLIENT_EMAIL = "outreach-hub@hub-test-project.iam.gserviceaccount.com"
PROJECT_ID = "hub-test-project"


@lru_cache(maxsize=4)
def private_key(key_id: str = KEY_ID) -> RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_key_pem(key_id: str = KEY_ID) -> str:
    return (
        private_key(key_id)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode("ascii")
    )


def public_keys(*key_ids: str) -> dict[str, RSAPublicKey]:
    """``{kid: public key}`` for the OAuth emulator (the JWT header names its ``kid``)."""
    return {kid: private_key(kid).public_key() for kid in (key_ids or (KEY_ID,))}


def service_account_info(
    *,
    token_uri: str = "https://oauth2.googleapis.com/token",
    client_email: str = CLIENT_EMAIL,
    key_id: str = KEY_ID,
) -> dict[str, str]:
    """The JSON Google's console hands out for a service-account key, with our test key."""
    return {
        "type": "service_account",
        "project_id": PROJECT_ID,
        "private_key_id": key_id,
        "private_key": private_key_pem(key_id),
        "client_email": client_email,
        "client_id": "109876543210987654321",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": (
            "https://www.googleapis.com/robot/v1/metadata/x509/" + client_email.replace("@", "%40")
        ),
        "universe_domain": "googleapis.com",
    }


def write_service_account_file(path: str | Path, **kwargs: str) -> Path:
    path = Path(path)
    path.write_text(json.dumps(service_account_info(**kwargs), indent=2), encoding="utf-8")
    return path
