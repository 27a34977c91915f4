"""Kit rotation (source document 5.2, 7.3): requests, plans, handovers.

`booking.rotation.planner` is the pure planner core (CP-SAT and the greedy baseline); it is not
re-exported here so that importing this package does not load OR-Tools.
"""
