"""Protocol versions we speak and the rules that differ between them (spec-checklist §1)."""

from __future__ import annotations

LATEST_VERSION = "2025-11-25"
SUPPORTED_VERSIONS: tuple[str, ...] = ("2025-11-25", "2025-06-18", "2025-03-26")
# T§Protocol Version Header: with no header and no other way to know, assume 2025-03-26.
HEADERLESS_VERSION = "2025-03-26"


def is_supported(version: str) -> bool:
    return version in SUPPORTED_VERSIONS


def negotiate(requested: str) -> str:
    """L§Version Negotiation: echo a supported version, otherwise answer with our latest."""
    return requested if requested in SUPPORTED_VERSIONS else LATEST_VERSION


def allows_batches(version: str) -> bool:
    # JSON-RPC batching exists only in 2025-03-26; 2025-06-18 removed it.
    return version == "2025-03-26"


def has_elicitation(version: str) -> bool:
    # Elicitation arrived in 2025-06-18.
    return version != "2025-03-26"
