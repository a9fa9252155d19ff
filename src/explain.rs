//! `integ explain CODE`.

use std::process::ExitCode;

use integ_compiler::diagnostic::Code;

pub fn run(code: &str) -> ExitCode {
    if code.eq_ignore_ascii_case("list") {
        for code in Code::ALL {
            println!("{}  {:<8} {}", code.as_str(), code.severity().as_str(), code.title());
        }
        return ExitCode::SUCCESS;
    }
    match Code::parse(code) {
        Some(code) => {
            print!("{}", code.explain());
            if !code.explain().ends_with('\n') {
                println!();
            }
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("error: no diagnostic code `{code}`");
            let close: Vec<&str> = Code::ALL
                .iter()
                .map(|candidate| candidate.as_str())
                .filter(|candidate| strsim_close(candidate, code))
                .collect();
            if !close.is_empty() {
                eprintln!("help: did you mean {}?", close.join(" or "));
            }
            eprintln!("help: `integ explain list` prints every code");
            ExitCode::from(2)
        }
    }
}

fn strsim_close(candidate: &str, written: &str) -> bool {
    let written = written.to_ascii_uppercase();
    let written = if written.starts_with(['E', 'W']) { written } else { format!("E{written}") };
    let padded = if written.len() < 5 { format!("{}{:0>4}", &written[..1], &written[1..]) } else { written };
    candidate == padded
}
