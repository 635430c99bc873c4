"""Vendor profiles: each SIS's connection form, validation and permission fix texts."""
from ..settings import ConnectionSettings
from .aeries import AeriesProfile
from .classlink import ClassLinkProfile
from .base import AREAS, FieldSpec, Profile
from .infinite_campus import InfiniteCampusProfile, app_name_from_url
from .oneroster import OneRosterProfile
from .powerschool import PowerSchoolProfile
from .skyward import SkywardProfile
from .synergy import SynergyProfile

PROFILES: dict[str, Profile] = {
    p.key: p for p in (AeriesProfile(), InfiniteCampusProfile(), PowerSchoolProfile(), SkywardProfile(),
                       SynergyProfile(), ClassLinkProfile(), OneRosterProfile())
}


def get_profile(key: str) -> Profile:
    """The profile for a vendor key; KeyError names the known keys."""
    try:
        return PROFILES[key]
    except KeyError:
        raise KeyError(f"Unknown SIS vendor {key!r}; expected one of {', '.join(PROFILES)}") from None


__all__ = ["AREAS", "PROFILES", "ConnectionSettings", "FieldSpec", "Profile", "app_name_from_url",
           "get_profile"]
