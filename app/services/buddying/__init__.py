"""Buddying: stronger members support members with gaps, per standard, within an alliance.

``planning`` finds needs and proposes buddies (reads members and results, runs ``rules.buddying``, stores a
plan); ``pairs`` takes a stored pair through its lifecycle (acceptance, start, completion, withdrawal,
reassignment, and the system's settling and refreshing after decisions and rescores); ``board`` builds what
the pages show. Import names from the module that owns them.
"""
