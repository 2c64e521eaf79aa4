"""Accelerator add-ons: device plugins, the Neuron stack, storage classes (the accelerators issue fills this in)."""

from __future__ import annotations

from mlplat.addons import AddOn

ADDONS: list[AddOn] = []
