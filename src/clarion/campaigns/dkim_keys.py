"""DKIM keys of an email channel configuration: checked at save so nothing about them can fail at send time.

Each refusal is a 400 naming the field (``email.dkim[0].privateKey``, ``email.dkim[1].domain`` …) and the
rule. Private keys are normalized to PKCS#8 PEM and sealed; the public key is kept beside them in clear (the
read view shows it and the DNS record without unsealing anything).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from clarion.campaigns.content import has_personalization
from clarion.campaigns.errors import InvalidCampaign
from clarion.kit import dkim
from clarion.kit.secretbox import SecretBox

_HEADER_NAME = re.compile(r"[!-9;-~]{1,76}")  # RFC 5322 field name: printable ASCII but ':'


def stored_keys(
    settings: Mapping[str, Any], previous: Sequence[Mapping[str, Any]], box: SecretBox
) -> list[dict[str, Any]]:
    """The ``dkim`` list to store for an email block (``settings``: its wire dump), checked and sealed.

    A key given without ``privateKey`` keeps the stored key of the same domain and selector.
    """
    entries: list[Mapping[str, Any]] = settings.get("dkim") or []
    if not entries:
        return []
    from_domain = _from_domain(str(settings["fromAddress"]))
    kept = {(entry["domain"], entry["selector"]): entry for entry in previous}
    stored: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for index, entry in enumerate(entries):
        field = f"email.dkim[{index}]"
        domain = _checked(f"{field}.domain", "dns_name", dkim.check_domain, entry["domain"])
        selector = _checked(f"{field}.selector", "dns_name", dkim.check_selector, entry["selector"], domain)
        if (domain, selector) in seen:
            _refuse(f"{field}.selector", "unique", f"{selector}._domainkey.{domain} is given twice")
        seen.add((domain, selector))
        if from_domain != domain and not from_domain.endswith("." + domain):
            _refuse(
                f"{field}.domain",
                "aligned_with_from",
                f"d={domain} does not align with the From domain {from_domain} (DMARC relaxed alignment: "
                f"the From domain must be {domain} or one of its subdomains)",
            )
        algorithm = entry["algorithm"]
        sealed, public_key = _key(f"{field}.privateKey", entry.get("privateKey"), algorithm, box)
        if sealed is None:
            previous_entry = kept.get((domain, selector))
            if previous_entry is None or not previous_entry.get("privateKeySealed"):
                _refuse(
                    f"{field}.privateKey",
                    "required",
                    f"required: no key is stored for selector {selector!r} of {domain} (give the private "
                    "key; it is write-only, so an update may omit it only for a key already stored)",
                )
            if previous_entry["algorithm"] != algorithm:
                _refuse(
                    f"{field}.privateKey",
                    "required",
                    f"required: the stored key of selector {selector!r} is {previous_entry['algorithm']}; "
                    f"give a new private key for {algorithm}",
                )
            sealed, public_key = previous_entry["privateKeySealed"], previous_entry["publicKey"]
        stored.append(
            {
                "domain": domain,
                "selector": selector,
                "algorithm": algorithm,
                "headers": _headers(f"{field}.headers", entry.get("headers")),
                "privateKeySealed": sealed,
                "publicKey": public_key,
            }
        )
    return stored


def _from_domain(from_address: str) -> str:
    """The From domain DKIM must align with; a personalized one cannot be checked now, so it is refused."""
    _, at, domain = from_address.rpartition("@")
    if has_personalization(from_address) and (not at or has_personalization(domain) or "}" in domain):
        _refuse(
            "email.fromAddress",
            "dkim_fixed_from_domain",
            "DKIM signing needs a From address whose domain is fixed: d= must align with it, which cannot "
            "be checked at save for a personalized domain (personalize only the part before the @)",
        )
    return domain.lower()


def _key(field: str, text: str | None, algorithm: dkim.Algorithm, box: SecretBox) -> tuple[str | None, str]:
    """The sealed PKCS#8 PEM and the ``p=`` value of a given key; ``(None, "")`` when none is given."""
    if not text:
        return None, ""
    key = _checked(field, "dkim_key", dkim.load_private_key, text, algorithm)
    return box.seal(dkim.private_pem(key)), dkim.public_key_b64(key)


def _headers(field: str, names: Sequence[str] | None) -> list[str] | None:
    """The signed header list, lowercase and without repeats (None: the default list)."""
    if not names:
        return None
    result: list[str] = []
    for name in names:
        if not _HEADER_NAME.fullmatch(name):
            _refuse(field, "header_name", f"{name!r} is not a header name (printable ASCII, no ':' or space)")
        if name.lower() not in result:
            result.append(name.lower())
    if "from" not in result:
        _refuse(field, "signs_from", "must include From (RFC 6376 §5.4: the From header is always signed)")
    return result


def _checked(field: str, rule: str, check: Any, *args: Any) -> Any:
    try:
        return check(*args)
    except dkim.DkimKeyError as error:
        _refuse(field, rule, str(error))


def _refuse(field: str, rule: str, reason: str) -> NoReturn:
    raise InvalidCampaign(f"{field}: {reason}", context={"field": field, "rule": rule})
