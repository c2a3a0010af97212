//! What every part of the engine shares: the store, the checked config and its storage keys, the
//! browser's environment, the consent in force and the warnings raised so far.
//!
//! Parts (ranking, adaptation, syncing) own their state and take a `&mut Context` in their
//! methods; what one part needs from another is an argument or a return value.

use crate::config::ValidConfig;
use crate::consent::ConsentMode;
use crate::storage::{KeyValueStore, StorageKeys, StorageWarning};

use super::Environment;

/// Most warnings kept (the oldest go first).
const MAX_WARNINGS: usize = 20;

/// The engine's shared context (see the module docs).
#[derive(Debug)]
pub struct Context<S: KeyValueStore> {
    pub store: S,
    pub config: ValidConfig,
    pub keys: StorageKeys,
    pub env: Environment,
    pub consent: ConsentMode,
    pub warnings: Vec<StorageWarning>,
}

impl<S: KeyValueStore> Context<S> {
    pub fn new(store: S, config: ValidConfig, env: Environment) -> Self {
        let keys = StorageKeys::for_shop(config.shop());
        Context { store, config, keys, env, consent: ConsentMode::None, warnings: Vec::new() }
    }

    /// Keeps a warning for `warnings()`, dropping the oldest beyond [`MAX_WARNINGS`].
    pub fn warn(&mut self, warning: StorageWarning) {
        self.warnings.push(warning);
        if self.warnings.len() > MAX_WARNINGS {
            self.warnings.remove(0);
        }
    }
}
