"""Deterministic test credentials per (seed, venue, account index), valid for the real ccxt signers.

Kraken wants a base64 secret (ccxt base64-decodes it before HMAC), Bybit plain strings, and
Hyperliquid a secp256k1 private key whose Ethereum address is the wallet: ccxt signs ``/exchange``
actions with the key, so the address must really belong to it. For Hyperliquid ``api_key`` holds
the wallet address and ``secret`` the ``0x``-prefixed private key.
"""

from __future__ import annotations

import base64
import random
import string
from dataclasses import dataclass

from ccxt.static_dependencies import keccak
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

_SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_ALNUM = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class Credentials:
    api_key: str
    secret: str
    wallet_address: str | None = None


def eth_address(private_key_hex: str) -> str:
    """Lower-case ``0x`` address of a secp256k1 private key (keccak of the uncompressed point)."""
    value = int(private_key_hex.removeprefix("0x"), 16)
    point = ec.derive_private_key(value, ec.SECP256K1()).public_key()
    raw = point.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)[1:]
    return "0x" + bytes(keccak.SHA3(raw)[-20:]).hex()


def make_credentials(seed: int, venue: str, index: int) -> Credentials:
    rng = random.Random(f"credentials|{seed}|{venue}|{index}")
    if venue == "hyperliquid":
        key = rng.randrange(1, _SECP256K1_ORDER)
        private_key = f"0x{key:064x}"
        address = eth_address(private_key)
        return Credentials(api_key=address, secret=private_key, wallet_address=address)
    if venue == "kraken":
        api_key = base64.b64encode(rng.randbytes(42)).decode()
        return Credentials(api_key=api_key, secret=base64.b64encode(rng.randbytes(64)).decode())
    return Credentials(api_key="".join(rng.choices(_ALNUM, k=18)), secret="".join(rng.choices(_ALNUM, k=36)))
