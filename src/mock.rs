//! `integ mock FILE`: serves every api of a program on loopback, from its
//! declared types and the fixtures next to it, until Ctrl-C (§ 18.1 of
//! spec.md; the behaviour is `integ_compiler::interp::standin`'s).
//!
//! Standard output gets one line per api — its name, its stand-in's base
//! URL, and the environment variables to set (`SHOP_URL=...`, and the
//! `token_url`'s variable for OAuth2 apis) when the program reads any — so a
//! script can read them; notes and request logs go to standard error.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use integ_compiler::interp::schema;
use integ_compiler::interp::standin::{Bind, DEFAULT_PAGE_SIZE, DEFAULT_RECORDS, StandInApi, StandInOptions, StandIns};
use integ_compiler::ir;

#[derive(Args)]
pub struct MockArgs {
    /// The program whose apis are served.
    pub file: PathBuf,
    /// Records of each stream endpoint that has no fixture.
    #[arg(long, default_value_t = DEFAULT_RECORDS)]
    pub records: usize,
    /// Records per page where the endpoint's pagination does not say.
    #[arg(long, default_value_t = DEFAULT_PAGE_SIZE)]
    pub page_size: usize,
    /// The directory of `<Api>.<endpoint>.json` fixtures [default: `fixtures` next to FILE].
    #[arg(long)]
    pub fixtures: Option<PathBuf>,
}

pub fn run(args: &MockArgs) -> ExitCode {
    let file = integ_compiler::program::normalize(&args.file.to_string_lossy());
    let analysis = match crate::run::checked_program(&file) {
        Ok(analysis) => analysis,
        Err(code) => return code,
    };
    let lowered = ir::lower::lower(&analysis.program, &analysis.checked);
    if lowered.apis.is_empty() {
        eprintln!("error: `{file}` declares no api to stand in for");
        return ExitCode::from(2);
    }
    let schema = schema::schema(&lowered.types, |record, field| lowered.is_read(record, field));
    let fixtures =
        args.fixtures.clone().unwrap_or_else(|| args.file.parent().unwrap_or_else(|| Path::new(".")).join("fixtures"));
    let options = StandInOptions {
        bind: Bind::Declared,
        fixtures: Some(fixtures.clone()),
        records: args.records,
        page_size: args.page_size.max(1),
        ..StandInOptions::default()
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(async {
        let stand_ins = match StandIns::start(Arc::new(lowered), Arc::new(schema), options).await {
            Ok(stand_ins) => stand_ins,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(2);
            }
        };
        let width = stand_ins.apis().iter().map(|api| api.name.len()).max().unwrap_or(0);
        let mut stdout = std::io::stdout().lock();
        for api in stand_ins.apis() {
            let _ = writeln!(stdout, "{}", line(api, width));
        }
        let _ = stdout.flush();
        drop(stdout);
        for api in stand_ins.apis() {
            notes(api);
        }
        let count = stand_ins.apis().len();
        eprintln!(
            "integ mock: serving {count} api{} of `{file}` (fixtures from `{}`); press Ctrl-C to stop",
            if count == 1 { "" } else { "s" },
            fixtures.display()
        );
        if let Err(error) = tokio::signal::ctrl_c().await {
            eprintln!("error: cannot wait for Ctrl-C: {error}");
        }
        stand_ins.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// `Shop  http://127.0.0.1:8081/admin/api/2024-04  SHOP_URL=http://127.0.0.1:8081/admin/api/2024-04`.
fn line(api: &StandInApi, width: usize) -> String {
    let mut text = format!("{:<width$}  {}", api.name, api.base_url);
    let mut settings = Vec::new();
    if let Some(variable) = &api.variable {
        settings.push(format!("{variable}={}", api.base_url));
    }
    if let (Some(variable), Some(token_url)) = (&api.token_variable, &api.token_url) {
        settings.push(format!("{variable}={token_url}"));
    }
    if !settings.is_empty() {
        text.push_str("  ");
        text.push_str(&settings.join(" "));
    }
    text
}

/// What a user should know about one api's stand-in, on standard error.
fn notes(api: &StandInApi) {
    let moved = api.declared.is_some_and(|declared| declared != api.address);
    if moved && let Some(declared) = api.declared {
        eprintln!("note: `{}`: {declared} is taken, so it is served at {} instead", api.name, api.address);
    }
    if api.variable.is_none() && (moved || api.declared.is_none()) {
        eprintln!(
            "note: `{}`'s base_url reads no environment variable, so the program cannot be pointed here; \
             `integ run --mock` can",
            api.name
        );
    }
    if let Some(token_url) = &api.token_url
        && api.token_variable.is_none()
    {
        eprintln!("note: `{}`'s OAuth2 token endpoint is served at {token_url}", api.name);
    }
    for (_, reason) in &api.needs_fixtures {
        eprintln!("note: {reason}; until then it answers 501");
    }
}
