"""DKIM signing cost per message (``delivery/channels/email/dkim.py``) next to bare signatures, same run.

The messages are the rendered sample email of ``bench.mime`` (multipart/alternative: the 2.6 KB research
HTML and its text, From/To with display names, Reply-To, a custom header, List-Unsubscribe + one-click), one
per recipient (To and Subject differ), in its three variants (ASCII 7bit, Latin quoted-printable, CJK
base64). Each signer is primed with the skeleton's constant head, as ``EmailChannel`` does.

- ``ed25519-sha256``: CPU-µs per message of ``DkimSigner.sign`` (target ≤ 60 µs: what DKIM may add to a
  worker's message); beside it a bare ``cryptography`` Ed25519 signature of the SHA-256 of the same bytes,
  i.e. the floor any ed25519 DKIM signer pays.
- ``rsa-sha256`` (2048 bits): ``DkimSigner.sign`` as a ratio to a bare ``cryptography`` RSA PKCS#1 v1.5
  SHA-256 signature of the same message bytes (target ≥ 0.9: canonicalization and hashing cost at most
  ~10 % on top of the RSA operation).
- both keys at once (two signatures per message), and dkimpy (pure Python, the verifier of our tests) as a
  reference for what a library signer costs.

Every signer's output is verified with dkimpy before timing. Single process, one core; a figure is the
median of ``--rounds`` time-boxed rounds of CPU time (process time). Ours and the baseline alternate every
``BATCH`` messages, on the same messages, so that other load on the machine weighs on both alike; the ratio
is the median of the rounds' ratios.

Usage: .venv/bin/python -m bench.dkim [--seconds 6] [--rounds 7]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import dkim as dkimpy
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from bench.kit.report import Targets, console, machine_info, table, write_results
from bench.mime import SKELETON_OPTIONS, VARIANTS, Variant
from clarion.delivery.channels.email import mime
from clarion.delivery.channels.email.dkim import DkimKey, DkimSigner
from clarion.kit import dkim as keys

DOMAIN = "example.com"
MESSAGES = 200
"""Distinct rendered messages cycled through (different To and Subject: nothing is cached per message)."""
ED25519_TARGET_US = 60.0
RSA_RATIO_TARGET = 0.9


@dataclass
class Row:
    """One signer on one variant."""

    variant: str
    signer: str
    cpu_us_per_msg: float
    baseline: str
    baseline_cpu_us_per_msg: float | None
    ratio: float | None
    """baseline µs / ours µs: 1.0 means no cost on top of the bare signature."""
    signed_bytes: int


def messages(variant: Variant) -> tuple[bytes, list[bytes]]:
    """The skeleton's constant head and ``MESSAGES`` rendered messages of ``variant``."""
    skeleton = mime.build_skeleton(**SKELETON_OPTIONS)
    text = variant.text
    rendered = [
        skeleton.render(
            to=f"user{i}@example.org",
            to_name=variant.to_name,
            subject=variant.subject.format(i=i),
            html=variant.html,
            text=text,
        ).raw
        for i in range(MESSAGES)
    ]
    return skeleton.head, rendered


BATCH = 10
"""Messages signed by one signer before the other takes the same ones: the two alternate every ~1 ms (ed25519)
to ~10 ms (rsa), so load from other processes on the machine weighs on both alike."""


@dataclass
class Timing:
    """CPU-µs per message of ours and of the baseline (medians of the rounds), and the median of the rounds'
    ratios baseline ÷ ours (each round's pair measured on the same messages, interleaved)."""

    ours: float
    baseline: float | None
    ratio: float | None


def alternate(
    ours: Callable[[bytes], Any],
    baseline: Callable[[bytes], Any] | None,
    corpus: list[bytes],
    seconds: float,
    rounds: int,
) -> Timing:
    """``ours`` and ``baseline`` timed in alternating batches of the same messages, ``rounds`` time boxes."""
    mine: list[float] = []
    theirs: list[float] = []
    ratios: list[float] = []
    position = 0
    for _ in range(rounds):
        ours_cpu = base_cpu = 0.0
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / rounds:
            batch = corpus[position : position + BATCH]
            position = (position + BATCH) % (len(corpus) - BATCH)
            began = time.process_time()
            for raw in batch:
                ours(raw)
            ours_cpu += time.process_time() - began
            if baseline is not None:
                began = time.process_time()
                for raw in batch:
                    baseline(raw)
                base_cpu += time.process_time() - began
            n += len(batch)
        mine.append(ours_cpu / n * 1e6)
        if baseline is not None:
            theirs.append(base_cpu / n * 1e6)
            ratios.append(base_cpu / ours_cpu)
    if baseline is None:
        return Timing(statistics.median(mine), None, None)
    return Timing(statistics.median(mine), statistics.median(theirs), statistics.median(ratios))


def dnsfunc_for(*identities: DkimKey) -> Callable[..., bytes | None]:
    records = {}
    for identity in identities:
        record = keys.dns_record(
            identity.selector, identity.domain, identity.algorithm, keys.public_key_b64(identity.key)
        )
        records[record.name + "."] = record.value.encode()

    def dnsfunc(name: bytes, timeout: int = 5, **_: Any) -> bytes | None:
        return records.get(name.decode())

    return dnsfunc


def verified(signed: bytes, count: int, *identities: DkimKey) -> None:
    """Stop the benchmark if any signature does not verify with dkimpy."""
    dnsfunc = dnsfunc_for(*identities)
    for index in range(count):
        if not dkimpy.DKIM(signed).verify(idx=index, dnsfunc=dnsfunc):
            raise SystemExit(f"signature {index} does not verify: {signed[:300]!r}")


def dkimpy_signer(identity: DkimKey) -> Callable[[bytes], bytes]:
    """dkimpy's ``sign`` with the same key, canonicalization and header list."""
    private = keys.private_pem(identity.key).encode()
    if identity.algorithm == "ed25519-sha256":  # dkimpy takes the raw seed in base64 for ed25519
        private = keys.base64.b64encode(identity.key.private_bytes_raw()).decode().encode()  # type: ignore[union-attr]
    include = [name.encode() for name in identity.headers]

    def sign(raw: bytes) -> bytes:
        return dkimpy.sign(
            raw,
            identity.selector.encode(),
            identity.domain.encode(),
            private,
            canonicalize=(b"relaxed", b"relaxed"),
            signature_algorithm=identity.algorithm.encode(),
            include_headers=include,
        )

    return sign


def bench_variant(
    variant: Variant, ed: DkimKey, rsa_key: DkimKey, seconds: float, rounds: int, with_dkimpy: bool
) -> list[Row]:
    head, corpus = messages(variant)
    ed_signer = DkimSigner([ed]).for_head(head)
    rsa_signer = DkimSigner([rsa_key]).for_head(head)
    both = DkimSigner([ed, rsa_key]).for_head(head)
    verified(ed_signer.sign(corpus[0]), 1, ed)
    verified(rsa_signer.sign(corpus[0]), 1, rsa_key)
    verified(both.sign(corpus[0]), 2, ed, rsa_key)
    assert isinstance(ed.key, ed25519.Ed25519PrivateKey)
    assert isinstance(rsa_key.key, rsa.RSAPrivateKey)
    ed_sign, rsa_sign = ed.key.sign, rsa_key.key.sign
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()
    size = len(ed_signer.sign(corpus[0]))
    rows = []
    timing = alternate(
        ed_signer.sign, lambda raw: ed_sign(hashlib.sha256(raw).digest()), corpus, seconds, rounds
    )
    rows.append(
        Row(variant.name, "ed25519-sha256", timing.ours, "bare Ed25519(SHA-256(msg))", timing.baseline,
            timing.ratio, size)
    )  # fmt: skip
    timing = alternate(rsa_signer.sign, lambda raw: rsa_sign(raw, pkcs1, sha256), corpus, seconds, rounds)
    size = len(rsa_signer.sign(corpus[0]))
    rows.append(
        Row(variant.name, "rsa-sha256 2048", timing.ours, "bare RSA PKCS#1 v1.5 (msg)", timing.baseline,
            timing.ratio, size)
    )  # fmt: skip
    timing = alternate(both.sign, None, corpus, seconds / 2, rounds)
    rows.append(
        Row(variant.name, "both (ed25519 + rsa)", timing.ours, "-", None, None, len(both.sign(corpus[0])))
    )
    if with_dkimpy:
        for identity, ours_row in ((ed, rows[0]), (rsa_key, rows[1])):
            sign = dkimpy_signer(identity)
            verified(sign(corpus[0]) + corpus[0], 1, identity)
            theirs = alternate(sign, None, corpus, seconds / 4, 3).ours
            rows.append(
                Row(variant.name, f"dkimpy {identity.algorithm}", theirs, f"ours ({ours_row.signer})",
                    ours_row.cpu_us_per_msg, ours_row.cpu_us_per_msg / theirs, 0)
            )  # fmt: skip
    return rows


def main(args: argparse.Namespace) -> None:
    meta = {"seconds_per_signer": args.seconds, "rounds": args.rounds, "messages": MESSAGES, **machine_info()}
    ed = DkimKey(DOMAIN, "ed", "ed25519-sha256", keys.generate("ed25519-sha256"))
    rsa_key = DkimKey(DOMAIN, "rsa", "rsa-sha256", keys.generate("rsa-sha256", 2048))
    chosen = [variant for variant in VARIANTS if variant.name in args.variants]
    rows = [
        row
        for variant in chosen
        for row in bench_variant(variant, ed, rsa_key, args.seconds, args.rounds, not args.no_dkimpy)
    ]
    columns = [
        "variant",
        "signer",
        "CPU µs/msg",
        "baseline",
        "baseline µs/msg",
        "baseline ÷ ours",
        "signed bytes",
    ]
    console.print(
        table(
            "DKIM signing, one core, rendered sample email (relaxed/relaxed)",
            columns,
            [
                [
                    r.variant,
                    r.signer,
                    r.cpu_us_per_msg,
                    r.baseline,
                    r.baseline_cpu_us_per_msg,
                    r.ratio,
                    r.signed_bytes,
                ]
                for r in rows
            ],
            caption="CPU µs: process time per message, median of the rounds; baseline ÷ ours (median of the "
            "rounds' ratios): 1.0 = no cost "
            "beyond the bare signature (for dkimpy rows: dkimpy's time ÷ ours, inverted: ours ÷ dkimpy)",
            left={"signer", "baseline"},
        )
    )
    targets = Targets()
    for row in rows:
        if row.signer == "ed25519-sha256":
            targets.check(
                f"ed25519 CPU µs/msg ({row.variant})", row.cpu_us_per_msg, ED25519_TARGET_US, at_least=False
            )
        if row.signer.startswith("rsa") and row.ratio is not None:
            targets.check(f"rsa-2048 bare ÷ ours ({row.variant})", row.ratio, RSA_RATIO_TARGET)
    console.print(targets.render())
    meta["loadavg_end"] = machine_info()["loadavg"]
    payload = {"meta": meta, "results": [asdict(row) for row in rows], "targets": targets.checks}
    console.print(f"written {write_results('dkim', payload)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=6.0, help="time per signer and variant (all rounds)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per signer (the median is kept)")
    parser.add_argument(
        "--variants", nargs="+", default=[variant.name for variant in VARIANTS], help="ascii latin cjk"
    )
    parser.add_argument("--no-dkimpy", action="store_true", help="skip the dkimpy reference rows")
    main(parser.parse_args())
