"""Membership driver plugins (namespace ``nubis.servicegroup``)."""
