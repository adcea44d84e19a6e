"""Orchestration between the tasks and the rules: the pipeline's table (``spine``), and the work
that drives connectors, threads, leases and providers around the domain's decisions."""
