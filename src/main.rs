//! The `flightdeck` binary: `serve` and `demo`.

use clap::Parser;
use flightdeck::{
    cli,
    config::{Cli, Command},
    demo, server,
};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    match cli.log_format.as_str() {
        "json" => logs.json().init(),
        _ => logs.init(),
    }
    match cli.into_command() {
        Command::Serve(config) => {
            let demo_pace = config.demo.then_some(config.demo_pace_ms);
            let (demo_token, demo_file) = (config.token.clone(), config.demo_token_file());
            let running = server::start(config).await?;
            if let Some(token) = &running.first_token {
                // Printed once: only its hash is stored.
                println!("\nFirst start: an admin token was created. It will not be shown again:\n\n    {token}\n");
            }
            println!("Flightdeck is live at http://{}", running.addr);
            if let Some(pace_ms) = demo_pace {
                demo::spawn_in_process(&running, pace_ms, demo_token, &demo_file).await?;
            }
            flightdeck::shutdown::signal().await;
            tracing::info!("shutting down; press Ctrl-C again to stop at once");
            tokio::spawn(async {
                flightdeck::shutdown::signal().await;
                tracing::warn!("second signal: stopping at once");
                std::process::exit(130);
            });
            running.stop().await;
        }
        Command::Demo(config) => demo::run(config).await?,
        Command::Token(command) => cli::token::run(command, &mut std::io::stdout()).await?,
        Command::Emit(command) => cli::emit::run(command, &mut std::io::stdout()).await?,
        Command::Hooks(command) => cli::hooks::run(command, &mut std::io::stdout())?,
        Command::Notify(command) => cli::notify::run(command).await?,
        Command::Policy(command) => cli::policy::run(command, &mut std::io::stdout()).await?,
    }
    Ok(())
}
