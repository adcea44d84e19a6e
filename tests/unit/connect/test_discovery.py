"""Which reading ``stores discover`` does: a storefront's catalogue, a back office's survey, or none."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from connectors.discovery import DiscoveryUnsupported, is_back_office, locations, survey


def test_a_platform_without_discovery_is_refused_by_name() -> None:
    declared = SimpleNamespace(platform="rest")
    with pytest.raises(DiscoveryUnsupported, match="rest: discovery is not supported; name its locations"):
        locations(declared)
    assert not is_back_office(declared)
    with pytest.raises(DiscoveryUnsupported, match="rest: not a back office"):
        survey(declared)


def test_only_the_real_back_office_connectors_are_surveyed() -> None:
    assert not is_back_office(SimpleNamespace(platform="netsuite"))  # the name alone is not enough
