"""``sessionbox bench``: sessionbox next to the filesystem, raw databases and its peers.

One process run measures every contender on the same workloads, so the ratios the
targets are stated in (bench/RESULTS.md, "Targets") come from one run on one machine.
Results land in a JSON file that two runs can be diffed with (``--compare``).
"""
