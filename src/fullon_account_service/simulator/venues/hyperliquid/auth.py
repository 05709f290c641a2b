"""Who signed a Hyperliquid ``/exchange`` action, recovered the way the venue does it.

Hyperliquid has no API keys: every action carries an EIP-712 signature and the venue recovers
the signer's address from it. L1 actions (``setReferrer``, orders, ...) sign a "phantom agent"
whose ``connectionId`` is keccak(msgpack(action) || nonce || vault flag) under the ``Exchange``
domain (chain 1337); user-signed actions (``approveBuilderFee``) sign their own typed struct under
``HyperliquidSignTransaction``. A signer that is neither an account's wallet nor its API wallet
(agent) gets ``User or API Wallet 0x... does not exist.``, exactly as the venue answers.

ccxt signs with the ``privateKey`` from ``client_config``; the simulator registers the address of
that key as the account's agent, so only the configured key recovers to a known signer.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import Any

import coincurve
from ccxt.static_dependencies.keccak import SHA3 as _keccak
from ccxt.static_dependencies.msgpack import packb as _packb

from fullon_account_service.simulator.model import SimAccount, World

_HEX_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
_ZERO_ADDRESS = b"\x00" * 20
_DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
_AGENT_TYPE = "Agent(string source,bytes32 connectionId)"
_BUILDER_FEE_TYPE = (
    "HyperliquidTransaction:ApproveBuilderFee"
    "(string hyperliquidChain,string maxFeeRate,address builder,uint64 nonce)"
)
_MAINNET_SOURCE = "a"


class SignatureError(ValueError):
    """The body cannot be read as a signed action (the venue answers 422, plain text)."""


def keccak(data: bytes) -> bytes:
    return bytes(_keccak(data))


def private_key_for(account: SimAccount) -> str:
    """The secp256k1 key ccxt signs with: the account secret when it already is one, else derived."""
    if _HEX_KEY.match(account.secret):
        return "0x" + account.secret.removeprefix("0x").lower()
    return "0x" + hashlib.sha256(f"hyperliquid-agent:{account.secret}".encode()).hexdigest()


@lru_cache(maxsize=4096)
def address_of(private_key: str) -> str:
    """Ethereum address (lower-case hex) of a private key."""
    public = coincurve.PrivateKey(bytes.fromhex(private_key.removeprefix("0x"))).public_key
    return "0x" + keccak(public.format(compressed=False)[1:])[-20:].hex()


def known_signers(world: World, venue: str) -> dict[str, SimAccount]:
    """Addresses allowed to sign for an account: its wallet and its API wallet (agent)."""
    signers: dict[str, SimAccount] = {}
    for account in world.accounts_of(venue):
        signers[address_of(private_key_for(account))] = account
        if account.wallet_address:
            signers[account.wallet_address.lower()] = account
    return signers


def recover_signer(body: dict[str, Any]) -> str:
    """Address that signed ``body`` (``{"action", "nonce", "signature", "vaultAddress"?}``)."""
    action = body.get("action")
    nonce = body.get("nonce")
    signature = body.get("signature")
    if not isinstance(action, dict) or not isinstance(action.get("type"), str):
        raise SignatureError("missing field `action`")
    if not isinstance(nonce, int) or isinstance(nonce, bool):
        raise SignatureError("missing field `nonce`")
    if not isinstance(signature, dict):
        raise SignatureError("missing field `signature`")
    if action["type"] == "approveBuilderFee":
        digest = _builder_fee_digest(action)
    else:
        digest = _l1_digest(action, nonce, body.get("vaultAddress"), body.get("expiresAfter"))
    return _recover(digest, signature)


def _recover(digest: bytes, signature: dict[str, Any]) -> str:
    try:
        r = bytes.fromhex(str(signature["r"]).removeprefix("0x")).rjust(32, b"\x00")
        s = bytes.fromhex(str(signature["s"]).removeprefix("0x")).rjust(32, b"\x00")
        v = int(signature["v"]) - 27
        if v not in (0, 1) or len(r) != 32 or len(s) != 32:
            raise ValueError("bad v/r/s")
        public = coincurve.PublicKey.from_signature_and_message(r + s + bytes([v]), digest, hasher=None)
    except (KeyError, ValueError, TypeError) as e:
        raise SignatureError("invalid signature") from e
    return "0x" + keccak(public.format(compressed=False)[1:])[-20:].hex()


def _typed_digest(domain_name: str, chain_id: int, struct_hash: bytes) -> bytes:
    domain = keccak(
        keccak(_DOMAIN_TYPE.encode())
        + keccak(domain_name.encode())
        + keccak(b"1")
        + chain_id.to_bytes(32, "big")
        + _ZERO_ADDRESS.rjust(32, b"\x00")
    )
    return keccak(b"\x19\x01" + domain + struct_hash)


def _l1_digest(action: dict[str, Any], nonce: int, vault: Any, expires_after: Any) -> bytes:
    data = _packb(action) + nonce.to_bytes(8, "big")
    if vault is None:
        data += b"\x00"
    else:
        data += b"\x01" + _address_bytes(vault)
    if isinstance(expires_after, int):
        data += b"\x00" + expires_after.to_bytes(8, "big")
    connection_id = keccak(data)
    struct = keccak(keccak(_AGENT_TYPE.encode()) + keccak(_MAINNET_SOURCE.encode()) + connection_id)
    return _typed_digest("Exchange", 1337, struct)


def _builder_fee_digest(action: dict[str, Any]) -> bytes:
    try:
        chain_id = int(str(action["signatureChainId"]), 16)
        struct = keccak(
            keccak(_BUILDER_FEE_TYPE.encode())
            + keccak(str(action["hyperliquidChain"]).encode())
            + keccak(str(action["maxFeeRate"]).encode())
            + _address_bytes(action["builder"]).rjust(32, b"\x00")
            + int(action["nonce"]).to_bytes(32, "big")
        )
    except (KeyError, ValueError, TypeError) as e:
        raise SignatureError("invalid approveBuilderFee action") from e
    return _typed_digest("HyperliquidSignTransaction", chain_id, struct)


def _address_bytes(value: Any) -> bytes:
    raw = bytes.fromhex(str(value).removeprefix("0x"))
    if len(raw) != 20:
        raise SignatureError("invalid address")
    return raw
