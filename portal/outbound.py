"""The outbound policy the portal hands to every connector call (SIS URLs are typed by users)."""
from collections.abc import Mapping

from connectors.netguard import OutboundPolicy, split_setting


def outbound_policy_for(config: Mapping) -> OutboundPolicy:
    """Public internet only, plus PORTAL_OUTBOUND_ALLOWLIST; loopback too outside production (sandbox)."""
    return OutboundPolicy(
        allow_private=False,
        allow_loopback=config.get("PORTAL_ENV") != "production",
        allowlist=split_setting(config.get("PORTAL_OUTBOUND_ALLOWLIST", "")),
    )
