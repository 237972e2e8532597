//! Alerts fed to a program's standard input, a line each (Falco's `program_output`): the
//! command runs under `/bin/sh -c`; with `keep_alive` one process takes every alert and is
//! started again if it dies, else each alert gets a process of its own, as in Falco.

use std::{
    io::Write,
    process::{Child, ChildStdin, Command, Stdio},
    time::{Duration, Instant},
};

use super::{
    worker::{Deliver, Worker},
    Shape,
};
use crate::rules::Priority;

/// How long a program may take to finish after its input is closed, before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(5);

pub(crate) struct Program {
    command: String,
    keep_alive: bool,
    running: Option<(Child, ChildStdin)>,
    /// Times the kept-alive program was started again after dying.
    restarts: u64,
}

impl Program {
    /// The output feeding `command`, on its own thread.
    pub(crate) fn start(
        command: &str,
        keep_alive: bool,
        shape: Shape,
        queue: usize,
    ) -> std::io::Result<Worker> {
        let p = Program {
            command: command.to_string(),
            keep_alive,
            running: None,
            restarts: 0,
        };
        Worker::spawn(format!("program {command}"), shape, queue, p)
    }

    fn spawn(&self) -> Result<(Child, ChildStdin), String> {
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(&self.command)
            .stdin(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start: {e}"))?;
        let stdin = child.stdin.take().ok_or("no standard input")?;
        Ok((child, stdin))
    }

    /// Close the program's input and wait for it (killed after [`EXIT_GRACE`]).
    fn end(&mut self) {
        if let Some((mut child, stdin)) = self.running.take() {
            drop(stdin);
            let deadline = Instant::now() + EXIT_GRACE;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Forget a kept-alive program that exited (waited for: no zombie), counting the restart
    /// to come.
    fn reap(&mut self) {
        if let Some((mut child, _)) = self.running.take() {
            let _ = child.kill();
            let _ = child.wait();
            self.restarts += 1;
        }
    }

    fn write(&mut self, line: &str) -> std::io::Result<()> {
        match &mut self.running {
            Some((_, stdin)) => {
                stdin.write_all(line.as_bytes())?;
                stdin.write_all(b"\n")?;
                stdin.flush()
            }
            None => Err(std::io::Error::other("not running")),
        }
    }
}

impl Deliver for Program {
    fn deliver(&mut self, _: Priority, line: &str) -> Result<(), String> {
        if !self.keep_alive {
            self.running = Some(self.spawn()?);
            let r = self.write(line).map_err(|e| e.to_string());
            self.end();
            return r;
        }
        // A kept-alive program that exited is started again (once per alert at most).
        let dead = match &mut self.running {
            Some((child, _)) => !matches!(child.try_wait(), Ok(None)),
            None => true,
        };
        if dead {
            self.reap();
            self.running = Some(self.spawn()?);
        }
        if self.write(line).is_err() {
            // It died between the check and the write: once more, on a fresh process.
            self.reap();
            self.running = Some(self.spawn()?);
            self.write(line).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn finish(&mut self) {
        self.end();
        if self.restarts > 0 {
            crate::messages::message!(
                "output program {}: started again {} time(s) after it exited",
                self.command,
                self.restarts
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(cmd: &str, keep_alive: bool) -> Program {
        Program {
            command: cmd.to_string(),
            keep_alive,
            running: None,
            restarts: 0,
        }
    }

    fn out_file(name: &str) -> std::path::PathBuf {
        let p =
            std::env::temp_dir().join(format!("sysaudit-program-{name}-{}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        p
    }

    #[test]
    fn a_kept_alive_program_takes_every_line_and_comes_back_when_it_dies() {
        let f = out_file("alive");
        let mut p = program(&format!("cat >> {}", f.display()), true);
        for l in ["one", "two"] {
            p.deliver(Priority::Warning, l).unwrap();
        }
        let pid = p.running.as_ref().map(|(c, _)| c.id());
        p.deliver(Priority::Warning, "three").unwrap();
        assert_eq!(p.running.as_ref().map(|(c, _)| c.id()), pid, "one process");
        p.finish();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "one\ntwo\nthree\n");
        let _ = std::fs::remove_file(&f);

        // A program that reads one line and exits: started again for each alert.
        let f = out_file("dies");
        let mut p = program(&format!("head -n 1 >> {}", f.display()), true);
        for l in ["a", "b", "c"] {
            p.deliver(Priority::Warning, l).unwrap();
            // Let it read, write and exit before the next alert.
            std::thread::sleep(Duration::from_millis(100));
        }
        p.finish();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "a\nb\nc\n");
        assert_eq!(p.restarts, 2);
        let _ = std::fs::remove_file(&f);
    }

    #[test]
    fn without_keep_alive_each_line_gets_a_process() {
        let f = out_file("each");
        let mut p = program(&format!("echo \"$$ $(cat)\" >> {}", f.display()), false);
        p.deliver(Priority::Notice, "x").unwrap();
        p.deliver(Priority::Notice, "y").unwrap();
        p.finish();
        let text = std::fs::read_to_string(&f).unwrap();
        let pids: Vec<&str> = text.lines().map(|l| l.split(' ').next().unwrap()).collect();
        assert_eq!(
            text.lines()
                .map(|l| l.split(' ').nth(1).unwrap())
                .collect::<Vec<_>>(),
            ["x", "y"]
        );
        assert_ne!(pids[0], pids[1], "{text}");
        let _ = std::fs::remove_file(&f);
    }
}
