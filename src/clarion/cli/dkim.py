"""``clarion dkim keygen``: a new DKIM key and the DNS TXT record that publishes it."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from clarion.cli.common import console, fail
from clarion.kit import dkim

dkim_app = typer.Typer(help="DKIM signing keys for email channel configurations.", no_args_is_help=True)


class KeyAlgorithm(StrEnum):
    """The algorithms DKIM signs with: ed25519 (RFC 8463, short keys) or rsa (what every verifier knows)."""

    ed25519 = "ed25519"
    rsa = "rsa"


@dkim_app.command()
def keygen(
    domain: Annotated[
        str, typer.Option("--domain", help="The signing domain d= (the From domain or a parent)")
    ],
    selector: Annotated[str, typer.Option("--selector", help="The selector s=, e.g. 2026a")],
    algorithm: Annotated[
        KeyAlgorithm,
        typer.Option(
            "--algorithm",
            help="ed25519 (RFC 8463, short) or rsa (known to every verifier); many sign with both",
        ),
    ] = KeyAlgorithm.ed25519,
    bits: Annotated[int, typer.Option("--bits", help="RSA key size, 1024 to 4096")] = dkim.RSA_DEFAULT_BITS,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write the private key here (mode 0600, never overwritten); print only the record"
        ),
    ] = None,
) -> None:
    """Make a key: print the DNS TXT record to publish and the private key (PEM) to give the configuration."""
    name: dkim.Algorithm = "rsa-sha256" if algorithm is KeyAlgorithm.rsa else "ed25519-sha256"
    try:
        domain = dkim.check_domain(domain)
        selector = dkim.check_selector(selector, domain)
        if algorithm is KeyAlgorithm.ed25519 and bits != dkim.RSA_DEFAULT_BITS:
            raise dkim.DkimKeyError("--bits is for rsa keys only (ed25519 keys have one size)")
        key = dkim.generate(name, bits)
    except dkim.DkimKeyError as error:
        fail(str(error))
    pem = dkim.private_pem(key)
    if out is not None:
        _write_private(out, pem)
    record = dkim.dns_record(selector, domain, name, dkim.public_key_b64(key))
    console.print(
        f"[bold]DNS record[/bold] (publish it before signing with the key): {record.type}", highlight=False
    )
    typer.echo(f"name:  {record.name}")
    typer.echo(f"value: {record.value}")
    if len(record.chunks) > 1:
        typer.echo(
            f"As {len(record.chunks)} strings of at most {dkim.DNS_STRING_MAX} characters (for DNS providers "
            "that want them split; verifiers join them):"
        )
        typer.echo(" ".join(f'"{chunk}"' for chunk in record.chunks))
    entry = f'{{"domain": "{domain}", "selector": "{selector}", "algorithm": "{name}", "privateKey": "…"}}'
    if out is not None:
        console.print(f"Private key written to {out} (mode 0600).", highlight=False)
        typer.echo(f"Configuration entry (email.dkim): {entry} with the file's content as privateKey")
        return
    typer.echo(f"Configuration entry (email.dkim): {entry} with this key as privateKey:")
    typer.echo(pem, nl=False)


def _write_private(path: Path, pem: str) -> None:
    """Create ``path`` readable by its owner only; an existing file (maybe a live key) is never replaced."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        fail(f"{path} already exists: choose another --out (a key file is never overwritten)")
    except OSError as error:
        fail(f"cannot create {path}: {error.strerror}")
    with os.fdopen(descriptor, "w") as file:
        file.write(pem)
