"""DKIM keys as people paste them: PEM (PKCS#8, PKCS#1), ed25519 seeds in base64, and every refusal."""

from __future__ import annotations

import base64
import random

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from clarion.kit import dkim


def pem(key: object, form: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8) -> str:
    return key.private_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.PEM, form, serialization.NoEncryption()
    ).decode()


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_ed25519_is_read_from_pkcs8_pem_a_32_byte_seed_and_a_64_byte_libsodium_key() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    expected = base64.b64encode(public).decode()
    for text in (pem(key), base64.b64encode(seed).decode(), base64.b64encode(seed + public).decode()):
        loaded = dkim.load_private_key(f"\n  {text}\n", "ed25519-sha256")
        assert dkim.public_key_b64(loaded) == expected
    # What is stored is PKCS#8 PEM whatever came in, and it reads back as the same key.
    stored = dkim.private_pem(dkim.load_private_key(base64.b64encode(seed).decode(), "ed25519-sha256"))
    assert stored.startswith("-----BEGIN PRIVATE KEY-----")
    assert dkim.public_key_b64(dkim.load_private_key(stored, "ed25519-sha256")) == expected


def test_rsa_is_read_from_pkcs8_and_pkcs1_pem(rsa_key: rsa.RSAPrivateKey) -> None:
    spki = rsa_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for form in (serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL):
        loaded = dkim.load_private_key(pem(rsa_key, form), "rsa-sha256")
        assert dkim.public_key_b64(loaded) == base64.b64encode(spki).decode()


@pytest.mark.parametrize(
    ("text", "algorithm", "reason"),
    [
        ("", "ed25519-sha256", "empty"),
        ("not a key at all!", "ed25519-sha256", "neither PEM nor base64"),
        (base64.b64encode(b"x" * 31).decode(), "ed25519-sha256", "not 31 bytes"),
        (base64.b64encode(b"x" * 32).decode(), "rsa-sha256", "must be PEM"),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "rsa-sha256", "does not parse"),
    ],
)
def test_unreadable_keys_are_refused_with_the_reason(
    text: str, algorithm: dkim.Algorithm, reason: str
) -> None:
    with pytest.raises(dkim.DkimKeyError, match=reason):
        dkim.load_private_key(text, algorithm)


def test_a_key_of_the_other_algorithm_is_refused(rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(dkim.DkimKeyError, match=r"an RSA key \(2048 bits\), not an ed25519 key"):
        dkim.load_private_key(pem(rsa_key), "ed25519-sha256")
    with pytest.raises(dkim.DkimKeyError, match="an ed25519 key, not an RSA key"):
        dkim.load_private_key(pem(ed25519.Ed25519PrivateKey.generate()), "rsa-sha256")
    with pytest.raises(dkim.DkimKeyError, match="not an RSA key"):
        dkim.load_private_key(pem(ec.generate_private_key(ec.SECP256R1())), "rsa-sha256")


def short_rsa_key(bits: int) -> rsa.RSAPrivateKey:
    """An RSA key shorter than ``cryptography`` generates (old keys of that size are still around)."""
    rng = random.Random(bits)

    def prime(size: int) -> int:
        while True:
            candidate = rng.getrandbits(size) | (1 << (size - 1)) | (1 << (size - 2)) | 1
            if candidate % 65537 != 1 and all(
                pow(base, candidate - 1, candidate) == 1 for base in (2, 3, 5, 7, 11, 13, 17, 19, 23)
            ):
                return candidate

    p, q = prime(bits // 2), prime(bits // 2)
    e, n = 65537, p * q
    d = pow(e, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q),
        rsa.RSAPublicNumbers(e, n),
    )  # fmt: skip
    return numbers.private_key()


def test_rsa_keys_shorter_than_1024_bits_are_refused() -> None:
    short = short_rsa_key(768)
    with pytest.raises(dkim.DkimKeyError, match="768 bits; DKIM needs at least 1024"):
        dkim.load_private_key(pem(short), "rsa-sha256")


def test_encrypted_and_public_keys_are_refused_with_what_to_do(rsa_key: rsa.RSAPrivateKey) -> None:
    encrypted = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    ).decode()
    with pytest.raises(dkim.DkimKeyError, match="encrypted: give it without a passphrase"):
        dkim.load_private_key(encrypted, "rsa-sha256")
    public = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(dkim.DkimKeyError, match="this is a public key"):
        dkim.load_private_key(public.decode(), "rsa-sha256")


def test_a_64_byte_key_whose_halves_disagree_is_refused() -> None:
    seed = b"s" * 32
    with pytest.raises(dkim.DkimKeyError, match="second half is not the public key"):
        dkim.load_private_key(base64.b64encode(seed + b"p" * 32).decode(), "ed25519-sha256")


def test_domain_and_selector_must_be_dns_names() -> None:
    assert dkim.check_domain("Mail.Shop.Example") == "mail.shop.example"
    assert dkim.check_selector("2026.Jan", "shop.example") == "2026.jan"
    for bad in ("shop", "-shop.example", "shop..example", "shop_example.com", "a" * 64 + ".example", ""):
        with pytest.raises(dkim.DkimKeyError, match="is not a domain name"):
            dkim.check_domain(bad)
    for bad in ("s 1", "s_1", "-s", "s.", "a" * 64):
        with pytest.raises(dkim.DkimKeyError, match="is not a DKIM selector"):
            dkim.check_selector(bad, "shop.example")
    with pytest.raises(dkim.DkimKeyError, match="longer than the 253"):
        dkim.check_selector(".".join(["a" * 60] * 4), "shop.example")


def test_the_dns_record_of_each_algorithm(rsa_key: rsa.RSAPrivateKey) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    record = dkim.dns_record("s1", "shop.example", "ed25519-sha256", dkim.public_key_b64(key))
    assert record.name == "s1._domainkey.shop.example"
    assert record.type == "TXT"
    assert record.value == f"v=DKIM1; k=ed25519; p={dkim.public_key_b64(key)}"
    assert record.chunks == (record.value,)  # 44 base64 characters: one string
    record = dkim.dns_record("s2", "shop.example", "rsa-sha256", dkim.public_key_b64(rsa_key))
    assert record.value.startswith("v=DKIM1; k=rsa; p=MIIBIjAN")
    assert len(record.chunks) == 2
    assert all(len(chunk) <= 255 for chunk in record.chunks)
    assert "".join(record.chunks) == record.value


def test_generated_keys_load_back_and_rsa_sizes_are_bounded() -> None:
    for algorithm in dkim.ALGORITHMS:
        key = dkim.generate(algorithm, 1024)
        assert dkim.public_key_b64(dkim.load_private_key(dkim.private_pem(key), algorithm))
    with pytest.raises(dkim.DkimKeyError, match="1024 to 4096 bits"):
        dkim.generate("rsa-sha256", 512)
