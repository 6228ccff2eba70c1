//! Everything that runs only on the server: configuration, storage, authentication,
//! HTTP layers and the command line.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod context;
pub mod db;
pub mod error;
pub mod flash;
pub mod http;
pub mod identity;
pub mod keys;
pub mod mail;
pub mod maintenance;
pub mod metrics;
pub mod settings;
pub mod site;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod user_agent;
