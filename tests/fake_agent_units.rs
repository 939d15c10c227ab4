//! Unit tests of the fake agent's plan decoding and command-line parsing. The `fake-agent` bin
//! target is declared with `test = false`, so its modules' `#[cfg(test)]` tests run from here.

#[allow(dead_code)]
#[path = "../testing/fake_agent/invocation.rs"]
mod invocation;
#[allow(dead_code)]
#[path = "../testing/fake_agent/net_steps.rs"]
mod net_steps;
#[allow(dead_code)]
#[path = "../testing/fake_agent/plan.rs"]
mod plan;
