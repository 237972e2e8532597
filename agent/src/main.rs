//! `sysaudit` command-line entry: parse, dispatch, map errors to exit codes.

fn main() -> std::process::ExitCode {
    sysaudit::cli::main()
}
