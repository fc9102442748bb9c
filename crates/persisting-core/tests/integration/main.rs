//! The core's integration tests on real Lance datasets, as one test binary: every test binary
//! links all of Lance, so one link instead of three saves minutes per build. `fail_stop` stays
//! its own binary: it arms process-wide fault points that would hit these tests' threads.
mod arrow_put;
mod durability;
mod json_fuzz;
mod store;
