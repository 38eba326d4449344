//! The Cucumber World: one harness [`Scenario`] per Gherkin scenario.

use harness::scenario::{RunContext, Scenario};
use std::sync::{Arc, OnceLock};

static CONTEXT: OnceLock<Arc<RunContext>> = OnceLock::new();

/// Sets the run's shared context; the runner calls it once before any scenario starts.
pub fn set_context(ctx: Arc<RunContext>) -> Arc<RunContext> {
    CONTEXT.get_or_init(|| ctx).clone()
}

pub fn context() -> Arc<RunContext> {
    CONTEXT
        .get()
        .expect("the run context is set before scenarios start")
        .clone()
}

#[derive(Default)]
pub struct EsmWorld {
    pub scenario: Option<Scenario>,
}

impl std::fmt::Debug for EsmWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.scenario {
            Some(s) => write!(f, "EsmWorld({} {:?})", s.id, s.title),
            None => write!(f, "EsmWorld(no scenario)"),
        }
    }
}

impl cucumber::World for EsmWorld {
    type Error = std::convert::Infallible;

    async fn new() -> Result<Self, Self::Error> {
        Ok(EsmWorld::default())
    }
}

impl EsmWorld {
    pub fn scenario_mut(&mut self) -> &mut Scenario {
        self.scenario
            .as_mut()
            .expect("the before hook creates the scenario")
    }
}
