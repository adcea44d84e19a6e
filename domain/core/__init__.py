"""The core every stage stands on: engine and sessions, PostgreSQL's clock, the data model, the
business file and the environment, stage names, the audit log, timers, effect rows, the dead-letter
spool, liveness, wake-up coalescing and fleet-wide pacing. It imports no stage."""
