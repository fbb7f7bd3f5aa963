"""Unit tests of the virt driver contract and the default virt drivers."""
