"""``clarion dkim keygen``: the record and the key it prints verify together; --out writes a 0600 file."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clarion.cli.main import app as cli
from clarion.delivery.channels.email.dkim import DkimKey, DkimSigner
from clarion.delivery.channels.email.mime import build_skeleton
from clarion.kit import dkim
from tests.delivery.dkimcheck import verify

runner = CliRunner()


def signed_with(pem: str, algorithm: dkim.Algorithm, selector: str) -> bytes:
    key = DkimKey("shop.example", selector, algorithm, dkim.load_private_key(pem, algorithm))
    skeleton = build_skeleton(from_address="news@shop.example", message_id_domain="shop.example")
    return DkimSigner([key]).sign(skeleton.render(to="a@example.com", subject="Hi", html=None, text="x").raw)


@pytest.mark.parametrize(("flag", "algorithm"), [("ed25519", "ed25519-sha256"), ("rsa", "rsa-sha256")])
def test_keygen_prints_a_record_that_verifies_mail_signed_with_the_printed_key(
    flag: str, algorithm: str
) -> None:
    result = runner.invoke(
        cli, ["dkim", "keygen", "--domain", "Shop.Example", "--selector", "s1", "--algorithm", flag]
    )
    assert result.exit_code == 0, result.output
    name = re.search(r"^name:  (\S+)$", result.output, re.M)
    value = re.search(r"^value: (v=DKIM1; .+)$", result.output, re.M)
    pem = re.search(r"-----BEGIN PRIVATE KEY-----\n.+-----END PRIVATE KEY-----\n", result.output, re.S)
    assert name is not None, result.output
    assert value is not None, result.output
    assert pem is not None, result.output
    assert name[1] == "s1._domainkey.shop.example"
    assert value[1].startswith(f"v=DKIM1; k={flag}; p=")
    message = signed_with(pem[0], algorithm, "s1")  # type: ignore[arg-type]
    assert verify(message, {name[1]: value[1]}) == [True]
    assert verify(message, {name[1]: value[1].replace("p=M", "p=N").replace("p=", "p=A", 1)}) == [False]
    if flag == "rsa":  # 2048-bit records are split for DNS UIs: the quoted strings join to the value
        strings = re.search(r'^(".+")$', result.output, re.M)
        assert strings is not None
        assert "".join(re.findall(r'"([^"]+)"', strings[1])) == value[1]


def test_keygen_out_writes_the_key_0600_and_never_overwrites(tmp_path: Path) -> None:
    out = tmp_path / "s2.pem"
    args = [
        "dkim",
        "keygen",
        "--domain",
        "shop.example",
        "--selector",
        "s2",
        "--algorithm",
        "rsa",
        "--bits",
        "1024",
        "--out",
        str(out),
    ]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "BEGIN PRIVATE KEY" not in result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    key = dkim.load_private_key(out.read_text(), "rsa-sha256")
    assert key.key_size == 1024  # type: ignore[union-attr]
    assert dkim.public_key_b64(key) in result.output.replace("\n", "")
    before = out.read_text()
    again = runner.invoke(cli, args)
    assert again.exit_code == 1
    assert "already exists" in again.output
    assert out.read_text() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--domain", "shop", "--selector", "s1"], "'shop' is not a domain name"),
        (["--domain", "shop.example", "--selector", "bad selector"], "is not a DKIM selector"),
        (
            ["--domain", "shop.example", "--selector", "s1", "--algorithm", "rsa", "--bits", "512"],
            "1024 to 4096 bits",
        ),
        (["--domain", "shop.example", "--selector", "s1", "--bits", "4096"], "--bits is for rsa keys only"),
    ],
)
def test_keygen_mistakes_are_one_line_errors(args: list[str], message: str) -> None:
    result = runner.invoke(cli, ["dkim", "keygen", *args])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", [["dkim"], ["dkim", "keygen"]])
def test_help(command: list[str]) -> None:
    result = runner.invoke(cli, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output
