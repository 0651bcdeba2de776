//! `vpcflow`: turns network flows into AWS VPC Flow Logs files.

mod athena;
mod check;
mod cli;
mod config;
mod fields_cmd;
mod inputs;
mod insights;
mod ip_ranges;
mod logging;
mod metrics;
mod pipeline;
mod progress;
mod reload;
mod summary;

use std::io::{IsTerminal, Write as _};
use std::process::ExitCode;

use anyhow::Result;
use clap::{CommandFactory, Parser};

use crate::cli::{AthenaArgs, Cli, Command, ConvertArgs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(&cli.log_level, cli.log_style);
    let log_style = cli.log_style;
    match run(cli) {
        Ok(code) => code,
        // A reader that went away (`vpcflow convert … --out - | head`): no
        // message (it is what the reader wanted), but not success either,
        // since records were not written: 141, the status of a process
        // ended by SIGPIPE, which `set -o pipefail` reports.
        Err(e) if is_broken_pipe(&e) => ExitCode::from(BROKEN_PIPE_STATUS),
        Err(e) => {
            logging::fatal(&e, log_style);
            ExitCode::from(2)
        }
    }
}

/// Exit status when standard output was closed by its reader: 128 + SIGPIPE.
const BROKEN_PIPE_STATUS: u8 = 141;

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Fields => {
            fields_cmd::print_fields(&mut std::io::stdout().lock())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Convert(args) => convert(*args),
        Command::Athena(args) => {
            let text = athena_sql(&args)?;
            std::io::stdout().lock().write_all(text.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Insights(args) => {
            let settings = config::load(args.config.as_deref(), &args.overrides())?;
            let configured = settings.destinations.iter().find_map(|d| match d {
                config::Destination::CloudWatch(t) => Some(t.destination.name.clone()),
                _ => None,
            });
            let log_group = args
                .log_group
                .clone()
                .or(configured)
                .unwrap_or_else(|| insights::PLACEHOLDER_LOG_GROUP.to_string());
            let text = insights::render(&settings.format, &log_group);
            std::io::stdout().lock().write_all(text.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run(args) => run_daemon(args),
        Command::Check(args) => check(&args),
        Command::Deliver(args) => deliver(args),
        Command::Completions(args) => {
            // Written whole, so that a closed pipe is an error of ours to
            // report, not a panic in the generator.
            let mut script = Vec::new();
            clap_complete::generate(args.shell, &mut Cli::command(), "vpcflow", &mut script);
            std::io::stdout().lock().write_all(&script)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut page)?;
            std::io::stdout().lock().write_all(&page)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `vpcflow deliver`: drains the spool of every destination delivered
/// through one, then exits (0: all delivered).
fn deliver(args: cli::DeliverArgs) -> Result<ExitCode> {
    let settings = config::load(args.config.as_deref(), &args.overrides())?;
    let drain = match args.timeout {
        Some(secs) => vpcflow_sinks::DrainPolicy::For(std::time::Duration::from_secs(secs)),
        None => vpcflow_sinks::DrainPolicy::UntilDelivered,
    };
    let mut reports = Vec::new();
    for destination in &settings.destinations {
        if let Some(report) = pipeline::sinks::drain(&settings, destination, drain)? {
            eprint!("{}", summary::render_delivery_only(&report));
            reports.push(report);
        }
    }
    if reports.is_empty() {
        anyhow::bail!(
            "output.out: vpcflow deliver needs a destination delivered through a spool (s3://, a log group or a delivery stream)"
        );
    }
    check_delivered(&reports)?;
    Ok(ExitCode::SUCCESS)
}

/// An error when a one-shot run leaves objects (or batches) in a spool.
fn check_delivered(reports: &[vpcflow_sinks::DeliveryReport]) -> Result<()> {
    let Some(r) = reports.iter().find(|r| r.left.files > 0) else {
        return Ok(());
    };
    let why = match r.outcome {
        vpcflow_sinks::spool::DrainOutcome::OnlyPermanentErrors => {
            "the store refuses them (permanent errors such as access denied or a missing bucket: see the log)"
        }
        _ => "the time limit passed",
    };
    anyhow::bail!(
        "{} objects ({} bytes) were not delivered to {}: {why}; they stay in the spool {} and are delivered by the next run or by `vpcflow deliver`",
        r.left.files,
        r.left.bytes,
        r.destination,
        r.left.folder.display()
    )
}

fn check(args: &cli::CheckArgs) -> Result<ExitCode> {
    let settings = config::load(Some(&args.config), &config::Overrides::default())?;
    if !args.config_only {
        pipeline::sources::preflight(&settings).map_err(|e| {
            anyhow::anyhow!(
                "{e:#} (vpcflow run would stop here; to check only the configuration, for vpcflow convert or another host: --config-only)"
            )
        })?;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let report = check::report(&args.config, &settings, now);
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        check::write_text(&report, &mut out)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn run_daemon(args: cli::RunArgs) -> Result<ExitCode> {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    let settings = config::load(Some(&args.config), &config::Overrides::default())?;
    let stop = Arc::new(AtomicBool::new(false));
    let reload = Arc::new(AtomicBool::new(false));
    for (signal, flag) in [
        (signal_hook::consts::SIGINT, &stop),
        (signal_hook::consts::SIGTERM, &stop),
        (signal_hook::consts::SIGHUP, &reload),
    ] {
        signal_hook::flag::register(signal, flag.clone())
            .map_err(|e| anyhow::anyhow!("cannot handle signal {signal}: {e}"))?;
    }
    let telemetry = metrics::Telemetry::new();
    // An S3 destination's delivery counters join when the pipeline opens
    // its spool (`pipeline::run_live`).
    let server = settings
        .metrics_listen
        .map(|addr| metrics::MetricsServer::start(addr, telemetry.clone()))
        .transpose()?;
    if let Some(s) = &server {
        tracing::info!(address = %s.local_addr(), "metrics endpoint listening");
    }
    tracing::info!(
        analyzers = settings.analyzers.len(),
        captures = settings.captures.len(),
        "vpcflow run: started"
    );
    let mut reloader = reload::Reloader::new(args.config.clone(), settings.clone());
    let reload_telemetry = telemetry.clone();
    let mut reload_now = move || match reloader.reload() {
        Ok(applied) => {
            tracing::info!("configuration reloaded");
            reload_telemetry.reloaded(true);
            Some(applied)
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "configuration reload failed; the running configuration is kept");
            reload_telemetry.reloaded(false);
            None
        }
    };
    let control = pipeline::Control {
        stop: &stop,
        reload: &reload,
        reloader: &mut reload_now,
        telemetry,
    };
    let totals = pipeline::run_live(&settings, control)?;
    if !args.quiet {
        eprint!("{}", summary::render_run(&totals));
    }
    Ok(ExitCode::SUCCESS)
}

/// The text `vpcflow athena` prints.
fn athena_sql(args: &AthenaArgs) -> Result<String> {
    let settings = config::load(args.config.as_deref(), &args.overrides())?;
    let target = athena::Target {
        table: athena::parse_table(&args.table).map_err(anyhow::Error::msg)?,
        format: settings.format,
        file_format: settings.file_format,
        layout: settings.layout,
        prefix: settings.prefix,
        flow_log: settings.flow_log,
        location: args
            .location
            .as_deref()
            .map(athena::parse_location)
            .transpose()
            .map_err(anyhow::Error::msg)?,
        since: athena::parse_since(&args.since).map_err(anyhow::Error::msg)?,
    };
    Ok(match &args.duckdb {
        Some(dir) => athena::render_duckdb(&target, dir),
        None => athena::render(&target),
    })
}

fn convert(args: ConvertArgs) -> Result<ExitCode> {
    let settings = config::load(args.config.as_deref(), &args.overrides())?;
    let input = if args.skydive {
        pipeline::InputKind::Skydive
    } else if args.netflow {
        pipeline::InputKind::Netflow { port: args.port }
    } else if args.sflow {
        pipeline::InputKind::Sflow { port: args.port }
    } else {
        if args.port.is_some() {
            anyhow::bail!("--port: only with --netflow or --sflow");
        }
        pipeline::InputKind::Captures
    };
    let inputs = inputs::resolve(&args.files, input)?;
    let show = !args.quiet && std::io::stderr().is_terminal();
    let total: u64 = inputs.iter().filter_map(inputs::Input::size).sum();
    let bar = progress::Progress::new(show, total);
    let summary = pipeline::convert(&settings, input, &inputs, &mut |bytes| bar.set(bytes))?;
    bar.finish();
    if !args.quiet {
        eprint!("{}", summary::render(&summary));
    }
    check_delivered(&summary.delivery)?;
    Ok(
        if summary.files_failed.is_empty() && summary.bad_lines == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
    )
}
