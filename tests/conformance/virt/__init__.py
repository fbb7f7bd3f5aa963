"""The virt driver conformance suite."""
