"""Chip profiles: one TOML file per chip in this folder, loaded into a validated `ChipProfile`.

``load_profile('loihi2')`` loads a shipped profile; ``load_profile('path/to/my_chip.toml')`` a user's.
"""
from .profile import (COST_EVENTS, GRADES, SCOPES, BUILTIN_DIR, ChipProfile, CoreLimits, Cost, Formats,
                      LearningCaps, Mesh, Noc, builtin_profiles, load_profile, profile_from_dict)

__all__ = ["COST_EVENTS", "GRADES", "SCOPES", "BUILTIN_DIR", "ChipProfile", "CoreLimits", "Cost", "Formats",
           "LearningCaps", "Mesh", "Noc", "builtin_profiles", "load_profile", "profile_from_dict"]
