//! The aggregation server of the federated loop: devices POST clipped, noised, quantized model
//! updates; each round sums them (O(dimension) state), and once enough arrived publishes the
//! next FedAvg model, signed with the server's Ed25519 key.

pub mod aggregation;
pub mod config;
pub mod dap;
pub mod helper_client;
pub mod http;
pub mod ingest;
pub mod lift;
pub mod lift_ingest;
pub mod listener;
pub mod policy;
pub mod rounds;
pub mod screening;
pub mod server;
pub mod shares;
pub mod store;

pub use config::{CheckedConfig, ServerConfig};
pub use server::{start, start_with, Started};
