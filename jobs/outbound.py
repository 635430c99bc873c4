"""The outbound policy for every SIS call (SIS URLs are typed by users): one rule for validation and client."""
from collections.abc import Mapping

from flask import current_app

from connectors.netguard import OutboundPolicy, split_setting


def outbound_policy_for(config: Mapping) -> OutboundPolicy:
    """Public internet only, plus PORTAL_OUTBOUND_ALLOWLIST; loopback too outside production (sandbox)."""
    return OutboundPolicy(
        allow_private=False,
        allow_loopback=config.get("PORTAL_ENV") != "production",
        allowlist=split_setting(config.get("PORTAL_OUTBOUND_ALLOWLIST", "")),
    )


def outbound_policy() -> OutboundPolicy:
    """The running app's policy; a caller builds it once and hands the same one to validation and the client."""
    return outbound_policy_for(current_app.config)
