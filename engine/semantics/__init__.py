"""Mask semantics: the MM-NeuroOnco labels of 2D masks and 3D label maps, and the coarse
description sentence built from them. Qt-free and database-free."""

from engine.semantics.rules import MaskSemantics, mask_semantics

__all__ = ["MaskSemantics", "mask_semantics"]
