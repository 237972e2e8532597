//! `sysaudit` command-line entry; `cli::main` parses, dispatches and picks the exit code.

fn main() -> std::process::ExitCode {
    sysaudit::cli::main()
}
