//! Lists the instances of a server and the state of each.
//!
//! ```sh
//! ./dev run                                          # a server with a demo instance
//! cargo run -p rt-client --example list_instances    # RT_BASE_URL=... for another server
//! ```

#![allow(clippy::print_stdout)] // An example shows its results on stdout.

use rt_client::Client;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Where the server is; `./dev run` listens on port 3546.
    let base = std::env::var("RT_BASE_URL").unwrap_or_else(|_| "http://127.0.0.1:3546".into());
    // The builder also takes a bearer token, timeouts, a user agent and TLS roots.
    let client = Client::builder(base).build()?;

    // Every generated call returns a `ResponseValue`: `into_inner()` is the body.
    let version = client.get_version().await?.into_inner();
    println!("engine {}, contract {}", version.engine, rt_client::CONTRACT_VERSION);

    let instances = client.list_instances().await?.into_inner().instances;
    println!("{} instance(s)", instances.len());
    for i in instances {
        // `loaded` and `running` say where the instance is in its lifecycle.
        let state = match (i.loaded, i.running) {
            (_, true) => "Running",
            (true, false) => "Loaded",
            (false, false) => "Registered",
        };
        println!(
            "{}  {state:<10}  {:<8}  {:>5.1} fps  {}",
            i.instance_id, i.solution_id, i.fps, i.display_name
        );
    }
    Ok(())
}
