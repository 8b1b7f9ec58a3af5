//! Command line and logging; everything else is in the library.
#![forbid(unsafe_code)]

use anyhow::Context;
use clap::{Parser, Subcommand};
use meridian::config;
use meridian::drill;
use meridian::idle_spin::IdleSpin;
use meridian::server::Server;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// jemalloc instead of glibc malloc: the request path allocates and frees many small objects
/// (header maps, futures, buffers). Callgrind: 59.0k -> 56.5k instructions per proxied request,
/// idle RSS unchanged at ~10 MiB (mimalloc saved a little more but doubled idle RSS to 18 MiB).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Meridian: region-failover reverse proxy.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format: text or json (overrides the config file's [log] format).
    #[arg(long, global = true, env = "MERIDIAN_LOG_FORMAT")]
    log_format: Option<String>,
    /// Worker threads (default: TOKIO_WORKER_THREADS, else the CPUs available).
    #[arg(long, global = true, env = "MERIDIAN_WORKERS")]
    workers: Option<usize>,
    /// A busy worker spins this long before it sleeps (e.g. 50us, at most 1ms; default off),
    /// so its core is not handed to other threads. Adds up to this much latency per wait.
    #[arg(long, global = true, env = "MERIDIAN_IDLE_SPIN", value_parser = humantime::parse_duration)]
    idle_spin: Option<std::time::Duration>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the proxy.
    Run {
        /// Config file path, or an http(s):// URL polled with ETag (e.g. the AppConfig agent).
        #[arg(long, env = "MERIDIAN_CONFIG")]
        config: String,
        /// How often a URL config is polled.
        #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
        poll_interval: std::time::Duration,
    },
    /// Validate a config file and exit (non-zero with file:line:column on error).
    Check {
        /// Config file path.
        #[arg(long)]
        config: PathBuf,
    },
    /// Three regions on loopback with Meridian in front: try failover by hand.
    Demo {
        /// Where the us-east-1 Meridian listens.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Its admin listener.
        #[arg(long, default_value = "127.0.0.1:9901")]
        admin: SocketAddr,
        /// Where the demo's failure switch listens.
        #[arg(long, default_value = "127.0.0.1:9900")]
        control: SocketAddr,
        /// Add a data tier: a PostgreSQL server per region (from the machine's binaries) and
        /// the ledger app as each region's origin.
        #[arg(long)]
        with_database: bool,
    },
    /// The ledger app: stores POSTed bodies as rows in its region's database (demo, drills).
    Ledger {
        /// Listen address.
        #[arg(long, default_value = "127.0.0.1:3000")]
        listen: SocketAddr,
        /// Region name (reported in responses).
        #[arg(long)]
        region: String,
        /// The region's database: a postgres:// URL or key=value conninfo (several hosts allowed).
        #[arg(long, env = "LEDGER_DATABASE_URL")]
        database: String,
    },
    /// Measure a failover as clients see it: RTO, RPO (acknowledged writes lost), stale reads.
    Drill(Box<DrillArgs>),
    /// A small origin server that answers with a region name (benchmark and drill backend).
    Origin {
        /// Listen address.
        #[arg(long, default_value = "127.0.0.1:3000")]
        listen: SocketAddr,
        /// Region name to answer with.
        #[arg(long, default_value = "us-east-1")]
        region: String,
    },
}

/// `meridian drill`: the command line of docs/dr-results.md and the FIS tasks.
#[derive(clap::Args)]
struct DrillArgs {
    /// A region's front door, e.g. http://127.0.0.21:8080 (repeat for several regions; reads
    /// may cross regions with the consistency token).
    #[arg(long = "target", required = true)]
    targets: Vec<String>,
    /// A header for every request, e.g. 'Authorization: Bearer ...' (repeatable).
    #[arg(long = "header", value_parser = drill::parse_header)]
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// Requests per second, writes and reads together (50/s, 3000/m).
    #[arg(long, default_value = "50/s", value_parser = drill::parse_rate)]
    rate: f64,
    /// How long to send.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Share of requests that are writes.
    #[arg(long, default_value_t = 0.5)]
    write_share: f64,
    /// Share of reads sent to another target than the write they look up.
    #[arg(long, default_value_t = 0.5)]
    cross_region_share: f64,
    /// The fault instant (with --fault-cmd, when to run it).
    #[arg(long, value_parser = humantime::parse_duration)]
    fault_at: Option<Duration>,
    /// Shell command that injects the fault at --fault-at.
    #[arg(long)]
    fault_cmd: Option<String>,
    /// The heal instant (phases: before the fault, during, after the heal).
    #[arg(long, value_parser = humantime::parse_duration)]
    heal_at: Option<Duration>,
    /// Shell command that heals at --heal-at.
    #[arg(long)]
    heal_cmd: Option<String>,
    /// Another command at another second, AT=COMMAND (repeatable; marked on the plot).
    #[arg(long = "step", value_parser = drill::hooks::Hook::parse_step)]
    steps: Vec<drill::hooks::Hook>,
    /// Scenario name, for the report and the canaries.
    #[arg(long, default_value = "drill")]
    scenario: String,
    /// Writer's database (postgres:// URL or key=value conninfo) for the final read.
    #[arg(long)]
    check_database: Option<String>,
    /// CA bundle that verifies the database's certificate and host name (e.g. the RDS bundle);
    /// without it, sslmode=require in the URL encrypts without verifying.
    #[arg(long)]
    check_database_ca: Option<String>,
    /// How long the final read keeps looking for a writer.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    check_patience: Duration,
    /// Write the JSON report here (and the SVG plot next to it).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write every request here, one JSON object per line (times in microseconds).
    #[arg(long)]
    records: Option<PathBuf>,
    /// RTO objective: exit 1 when writes or reads take longer to recover.
    #[arg(long, value_parser = humantime::parse_duration)]
    rto: Option<Duration>,
    /// RPO objective: exit 1 when the acknowledged history lost spans more.
    #[arg(long, value_parser = humantime::parse_duration)]
    rpo: Option<Duration>,
    /// An answer slower than this counts as a failure for RTO.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    slow: Duration,
    /// A request with no answer after this long is a timeout.
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Seed of the request mix (random by default).
    #[arg(long)]
    seed: Option<u64>,
    /// No live progress line.
    #[arg(long)]
    quiet: bool,
}

impl DrillArgs {
    fn into_spec(self) -> drill::DrillSpec {
        drill::DrillSpec {
            targets: self.targets,
            headers: self.headers,
            rate: self.rate,
            duration: self.duration,
            write_share: self.write_share,
            cross_region_share: self.cross_region_share,
            fault_at: self.fault_at,
            fault_cmd: self.fault_cmd,
            heal_at: self.heal_at,
            heal_cmd: self.heal_cmd,
            steps: self.steps,
            scenario: self.scenario,
            check_database: self.check_database,
            check_database_ca: self.check_database_ca,
            check_patience: self.check_patience,
            json: self.json,
            records: self.records,
            rto: self.rto,
            rpo: self.rpo,
            slow: self.slow,
            timeout: self.timeout,
            seed: self.seed,
            progress: !self.quiet,
        }
    }
}

fn init_logging(json: bool, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config } => match config::load_file(&config) {
            Ok(settings) => {
                println!(
                    "{}: ok (version {}, {} regions, {} routes, local region {})",
                    config.display(),
                    settings.version,
                    settings.regions.len(),
                    settings.routes.len(),
                    settings.local().name
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        },
        Command::Drill(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(cli.workers.unwrap_or(2).max(1))
                .enable_all()
                .build();
            match runtime {
                Ok(rt) => ExitCode::from(rt.block_on(drill::main(args.into_spec()))),
                Err(e) => {
                    eprintln!("meridian drill: cannot start the async runtime: {e}");
                    ExitCode::from(drill::EXIT_SETUP)
                }
            }
        }
        command => {
            // Fargate tasks are small: size the worker pool to the task's vCPUs (or --workers).
            let workers = cli
                .workers
                .or_else(|| std::env::var("TOKIO_WORKER_THREADS").ok()?.parse().ok())
                .unwrap_or_else(|| {
                    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
                })
                .max(1);
            let idle_spin = match IdleSpin::new(cli.idle_spin.unwrap_or_default()) {
                Ok(spin) => spin,
                Err(e) => {
                    eprintln!("meridian: --idle-spin: {e}");
                    return ExitCode::from(2);
                }
            };
            // One worker (a 1-vCPU task, the benchmarks) gets the current-thread scheduler: no
            // work-stealing queues or cross-thread wake-ups to pay for (callgrind: -2 % instructions
            // per request). tests/binary.rs runs the binary both ways.
            let mut builder = if workers == 1 {
                // The blocking pool reads the config file (at start, on each reload); its thread
                // leaves after 1 s idle instead of tokio's 10 s, because while a process has a
                // second thread every socket call takes the kernel's shared file-table path.
                let mut builder = tokio::runtime::Builder::new_current_thread();
                builder.thread_keep_alive(std::time::Duration::from_secs(1));
                builder
            } else {
                let mut builder = tokio::runtime::Builder::new_multi_thread();
                builder.worker_threads(workers);
                builder
            };
            if let Some(spin) = &idle_spin {
                builder
                    .on_thread_park(spin.park_hook())
                    .on_thread_unpark(spin.unpark_hook());
            }
            let result = builder
                .enable_all()
                .build()
                .context("cannot start the async runtime")
                .and_then(|rt| rt.block_on(async_main(command, cli.log_format)));
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("meridian: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

async fn async_main(command: Command, log_format: Option<String>) -> anyhow::Result<()> {
    let json_override = log_format.as_deref().map(|f| f == "json");
    match command {
        Command::Run {
            config,
            poll_interval,
        } => {
            let source = config::ConfigSource::parse(&config)?;
            let tls = meridian::tls::UpstreamTls::system_roots()?;
            let settings = match source.fetch(None, &tls).await? {
                config::source::Fetched::Changed(settings, _) => *settings,
                config::source::Fetched::NotModified => anyhow::bail!("{config}: no config (304)"),
            };
            init_logging(
                json_override.unwrap_or(settings.log_json),
                &settings.log_level,
            );
            let server = Server::start_with_source(settings, Some(source), poll_interval).await?;
            wait_for_sigterm_then_drain(server).await
        }
        Command::Demo {
            listen,
            admin,
            control,
            with_database,
        } => {
            init_logging(json_override.unwrap_or(false), "info");
            if with_database {
                meridian::demo::data_lab::run(listen, admin, control).await
            } else {
                meridian::demo::run(listen, admin, control).await
            }
        }
        Command::Ledger {
            listen,
            region,
            database,
        } => {
            init_logging(json_override.unwrap_or(false), "warn");
            let ledger = meridian::demo::ledger::Ledger::start(&region, listen, &database).await?;
            eprintln!("ledger {region} on http://{}", ledger.addr());
            tokio::signal::ctrl_c().await?;
            Ok(())
        }
        Command::Origin { listen, region } => {
            init_logging(json_override.unwrap_or(false), "warn");
            let origin = meridian::origin::Origin::start(&region, listen).await?;
            eprintln!("origin {region} on http://{}", origin.addr());
            tokio::signal::ctrl_c().await?;
            Ok(())
        }
        Command::Check { .. } | Command::Drill(_) => {
            unreachable!("handled before the runtime starts")
        }
    }
}

/// SIGTERM or Ctrl-C starts the drain; a second one forces the exit.
async fn wait_for_sigterm_then_drain(server: Server) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        r = tokio::signal::ctrl_c() => r?,
    }
    tracing::info!("shutdown signal: draining");
    let force = server.force_token();
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        tracing::warn!("second signal: exiting now");
        force.cancel();
    });
    server.drain_and_stop().await;
    Ok(())
}
