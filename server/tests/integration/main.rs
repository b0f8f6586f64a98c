//! Integration tests of `rt-server`: each test starts the real binary on
//! `127.0.0.1:0` with its own data directory and drives it over HTTP, with
//! the generated client or raw requests. One test binary keeps link times
//! down.

mod auth;
mod client;
mod common;
mod config_tree;
mod conformance;
mod cors;
mod credentials;
mod database;
mod examples;
mod export;
mod fidelity;
mod inference;
mod instances;
mod keepalive;
mod lifecycle;
mod media;
mod metrics;
mod onvif;
mod panel;
mod push;
mod registry;
mod restart;
mod robustness;
mod rtsp;
mod securt;
mod securt_live;
mod streams;
mod system;
mod tls;
