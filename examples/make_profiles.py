"""Generate realistic sample profiles as JSON lines, deterministically (same seed, same file).

    python examples/make_profiles.py                                   # examples/profiles.jsonl (1,000)
    python examples/make_profiles.py --count 1000000 --output /tmp/profiles-1m.jsonl.gz   # a load test

Every profile has an ``email`` and a ``crmid`` identity, a name, a birth date, a home city, a loyalty tier
(gold/silver/bronze) with points, an email marketing consent and a last purchase time in 2026 — enough
for meaningful audiences such as ``loyalty.tier = "gold" and consents.marketing.email = true``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

FIRST_NAMES = [
    "Emma",
    "Liam",
    "Olivia",
    "Noah",
    "Ava",
    "Lucas",
    "Mia",
    "Hugo",
    "Léa",
    "Jules",
    "Chloé",
    "Louis",
    "Sofia",
    "Mateo",
    "Alice",
    "Arthur",
    "Nina",
    "Leo",
    "Clara",
    "Gabriel",
    "Inès",
    "Adam",
    "Zoé",
    "Paul",
    "Jade",
    "Raphaël",
    "Lina",
    "Sacha",
    "Anna",
    "Ethan",
    "Maya",
    "Nathan",
    "Eva",
    "Tom",
    "Lou",
    "Victor",
]
LAST_NAMES = [
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefebvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "Andre",
    "Mercier",
    "Dupont",
    "Lambert",
    "Bonnet",
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Wilson",
    "Anderson",
    "Taylor",
    "Moore",
    "Jackson",
    "Schmidt",
    "Müller",
    "Rossi",
]
CITIES = (
    ("Paris", "FR"),
    ("Lyon", "FR"),
    ("Marseille", "FR"),
    ("Bordeaux", "FR"),
    ("Berlin", "DE"),
    ("Munich", "DE"),
    ("Madrid", "ES"),
    ("Barcelona", "ES"),
    ("Milan", "IT"),
    ("Rome", "IT"),
    ("London", "GB"),
    ("Manchester", "GB"),
    ("New York", "US"),
    ("Chicago", "US"),
    ("San Francisco", "US"),
    ("Toronto", "CA"),
)
DOMAINS = ("example.com", "example.net", "example.org", "mail.example")
TIERS = (("gold", 0.15, (5_000, 20_000)), ("silver", 0.35, (1_000, 5_000)), ("bronze", 0.50, (0, 1_000)))
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
YEAR_SECONDS = 365 * 24 * 3600


def profiles(count: int, *, seed: int = 2026) -> Iterator[dict[str, Any]]:
    """``count`` sample profiles in the batch item shape ``{"identities": …, "attributes": …}``."""
    rng = random.Random(seed)
    for number in range(1, count + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        city, country = rng.choice(CITIES)
        tier, points = _loyalty(rng)
        birth = datetime(1950, 1, 1) + timedelta(days=rng.randrange(55 * 365))
        purchase = YEAR_START + timedelta(seconds=rng.randrange(YEAR_SECONDS))
        email = f"{_ascii(first)}.{_ascii(last)}{number}@{rng.choice(DOMAINS)}".lower()
        yield {
            "identities": {"email": [email], "crmid": [f"CRM-{100000 + number}"]},
            "attributes": {
                "person": {
                    "name": {"firstName": first, "lastName": last},
                    "birthDate": birth.date().isoformat(),
                },
                "homeAddress": {"city": city, "countryCode": country},
                "loyalty": {"tier": tier, "points": points},
                "consents": {"marketing": {"email": rng.random() < 0.7}},
                "lastPurchaseAt": purchase.isoformat().replace("+00:00", "Z"),
            },
        }


def _loyalty(rng: random.Random) -> tuple[str, int]:
    draw = rng.random()
    for tier, share, (low, high) in TIERS:
        if draw < share:
            return tier, rng.randrange(low, high)
        draw -= share
    return "bronze", rng.randrange(0, 1_000)


def _ascii(name: str) -> str:
    """A name as it appears in an email address (accents dropped)."""
    return name.translate(str.maketrans("éèëïüöäç", "eeeiuoac"))


def write(count: int, output: Path, *, seed: int) -> None:
    """Write ``count`` profiles to ``output`` (gzip when it ends with ``.gz``)."""
    opener: Any = gzip.open if output.suffix == ".gz" else open
    handle: IO[str]
    with opener(output, "wt", encoding="utf-8") as handle:
        for profile in profiles(count, seed=seed):
            handle.write(json.dumps(profile, ensure_ascii=False, separators=(",", ":")))
            handle.write("\n")


def main() -> None:
    """Parse the command line and write the file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=1000, help="profiles to generate (default 1000)")
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).with_name("profiles.jsonl"), help="file to write"
    )
    parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    arguments = parser.parse_args()
    write(arguments.count, arguments.output, seed=arguments.seed)


if __name__ == "__main__":
    main()
