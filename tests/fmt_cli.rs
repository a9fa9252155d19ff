//! `integ fmt` as a process: rewriting in place, `--check` exit codes and
//! listing, standard input, syntax errors and unreadable paths.
//!
//! Each test works in its own directory under the system temporary
//! directory, removed when the test ends.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_integ");

const MESSY: &str = "type  Order{id:Int,email:String}\n\n\n// kept\nfn cents(x:Int)->Decimal=decimal(x)/100\n";
const TIDY: &str = "type Order { id: Int, email: String }\n\n// kept\nfn cents(x: Int) -> Decimal = decimal(x) / 100\n";

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let path = std::env::temp_dir().join(format!("integ-fmt-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Scratch(path)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.0.join(name)).unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn integ(directory: &Path, args: &[&str]) -> Output {
    Command::new(BIN).args(args).current_dir(directory).output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn check_lists_the_files_that_would_change_and_exits_1_without_writing() {
    let scratch = Scratch::new("check");
    scratch.write("a/messy.integ", MESSY);
    scratch.write("a/tidy.integ", TIDY);
    let output = integ(&scratch.0, &["fmt", "--check", "a"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(stdout(&output), "a/messy.integ\n");
    assert!(stderr(&output).contains("would reformat 1 of 2 files"), "{}", stderr(&output));
    assert_eq!(scratch.read("a/messy.integ"), MESSY, "--check wrote the file");
}

#[test]
fn check_exits_0_when_everything_is_formatted() {
    let scratch = Scratch::new("check-clean");
    scratch.write("tidy.integ", TIDY);
    let output = integ(&scratch.0, &["fmt", "--check", "tidy.integ"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "");
}

#[test]
fn fmt_rewrites_changed_files_in_place_and_a_second_run_changes_nothing() {
    let scratch = Scratch::new("write");
    scratch.write("messy.integ", MESSY);
    let tidy = scratch.write("tidy.integ", TIDY);
    let before = std::fs::metadata(&tidy).unwrap().modified().unwrap();
    let output = integ(&scratch.0, &["fmt", "."]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(scratch.read("messy.integ"), TIDY);
    assert_eq!(std::fs::metadata(&tidy).unwrap().modified().unwrap(), before, "an unchanged file was written");
    let again = integ(&scratch.0, &["fmt", "--check", "."]);
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
}

#[test]
fn a_file_with_syntax_errors_is_reported_and_left_untouched() {
    let scratch = Scratch::new("syntax");
    let broken = "type A { id: Int\n\ntype B { x: }\n";
    scratch.write("broken.integ", broken);
    scratch.write("messy.integ", MESSY);
    let output = integ(&scratch.0, &["fmt", "--color", "never", "."]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let errors = stderr(&output);
    assert!(errors.contains("error[E0102]"), "{errors}");
    assert!(errors.contains("`broken.integ` has syntax errors; it was not formatted"), "{errors}");
    assert_eq!(scratch.read("broken.integ"), broken);
    // The other files are still formatted.
    assert_eq!(scratch.read("messy.integ"), TIDY);
}

#[test]
fn unreadable_paths_exit_2() {
    let scratch = Scratch::new("missing");
    let output = integ(&scratch.0, &["fmt", "--check", "nowhere.integ"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("cannot read `nowhere.integ`"), "{}", stderr(&output));
    let output = integ(&scratch.0, &["fmt"]);
    assert_eq!(output.status.code(), Some(2), "no path is a usage error");
}

#[test]
fn a_dash_formats_standard_input_to_standard_output() {
    let scratch = Scratch::new("stdin");
    let mut child = Command::new(BIN)
        .args(["fmt", "-"])
        .current_dir(&scratch.0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(MESSY.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), TIDY);
}
