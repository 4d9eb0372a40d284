"""Host side: CLI, experiment registry, planner/cache, executors, data builder."""
