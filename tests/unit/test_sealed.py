"""Secrets at rest: sealed and opened with one key, refused with another, never the same bytes twice."""

from __future__ import annotations

import pytest

from veggiecron.sealed import SecretBox, WrongSecretsKey


def test_a_sealed_secret_opens_with_its_key_only() -> None:
    box = SecretBox.of("", "app-key")
    sealed = box.seal("whsec_abc")
    assert "whsec_abc" not in sealed and sealed != box.seal("whsec_abc")  # a nonce per value
    assert box.open(sealed) == "whsec_abc"
    assert SecretBox.of("", "app-key").open(sealed) == "whsec_abc"  # the key is derived, not random
    with pytest.raises(WrongSecretsKey, match="security.secrets_key"):
        SecretBox.of("", "another-app-key").open(sealed)
    with pytest.raises(WrongSecretsKey):
        SecretBox.of("own-secrets-key", "app-key").open(sealed)  # secrets_key wins over app.key
    assert SecretBox.of("own-secrets-key", "x").open(SecretBox.of("own-secrets-key", "y").seal("s")) == "s"
    with pytest.raises(WrongSecretsKey):
        box.open("whsec_abc")  # not sealed at all
    with pytest.raises(WrongSecretsKey):
        box.open(sealed[:-4] + "AAAA")  # tampered
