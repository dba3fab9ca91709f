"""Pools and the fixture itself, against the real OSMO 6.3.1 control plane."""

from __future__ import annotations

import json

from tests.contract.controlplane.stack import POOL


def test_fixture_comes_up_in_under_two_minutes(controlplane):
    assert 0 < controlplane.bringup_s < 120


def test_pool_list_through_our_backend_reports_the_default_pool_online(osmo_backend):
    pools = {p.name: p for p in osmo_backend.pools()}
    assert pools[POOL].status == "ONLINE"
    assert pools[POOL].default_platform == "default"
    assert "default" in pools[POOL].platforms


def test_the_stand_in_node_gives_the_pool_capacity(controlplane):
    listing = json.loads(controlplane.cli("pool", "list", "--format-type", "json"))
    pool = next(p for ns in listing["node_sets"] for p in ns["pools"] if p["name"] == POOL)
    assert int(pool["resource_usage"]["total_capacity"]) >= 1


def test_version_through_our_backend_names_both_sides(osmo_backend):
    version = osmo_backend.version()
    assert version["client"] and version["client"].startswith("6.3")
    assert version["service"] and version["service"].startswith("6.3")
